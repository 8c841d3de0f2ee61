//! InfluxStore against a real InfluxDB 1.6.7.

use crate::{influx_store, readings, sorted, T0};
use riverwatch_engine::time::{DAY, MINUTE};
use riverwatch_engine::{DataFlag, Reading, StationId};
use riverwatch_live::store::{
    InfluxAuth, InfluxOpts, InfluxStore, ReadingChunks, ReadingStore, StoreError,
};
use riverwatch_live::Secret;
use riverwatch_testkit::{eventually_async, free_port, unique_name, Influx};
use std::time::Duration;

#[tokio::test]
async fn readings_come_back_with_exact_times_tags_and_values() {
    let server = Influx::shared();
    let (store, db) = influx_store(server, 1000);
    let mut batch = readings(&["DL01", "DL02"], &["ph", "nh3n"], T0 + 123, MINUTE, 50);
    batch.push(Reading {
        station: "S 03,x=y".into(),
        parameter: "do".into(),
        time: T0 + 7,
        value: 0.1 + 0.2,
        flag: DataFlag::Other('"'),
    });
    let report = store.write(&batch).await.expect("write");
    assert_eq!((report.stored, report.rejected.len()), (batch.len(), 0));

    let back = store.query(&[], T0, T0 + DAY).await.expect("query");
    assert_eq!(back, sorted(batch.clone()));

    // The same points seen through InfluxQL directly: exact ms time, unescaped tag, float bits.
    let raw = server.query(
        &db,
        "SELECT value, flag FROM water WHERE station = 'S 03,x=y'",
    );
    assert!(
        raw.contains(&format!("[{},0.30000000000000004,\"\\\"\"]", T0 + 7)),
        "{raw}"
    );
    let raw = server.query(
        &db,
        "SELECT count(value) FROM water GROUP BY station, parameter",
    );
    assert_eq!(raw.matches("[0,50]").count(), 4, "{raw}");
}

#[tokio::test]
async fn query_filters_stations_and_keeps_the_window_half_open() {
    let (store, _db) = influx_store(Influx::shared(), 1000);
    let batch = readings(&["A", "B", "C"], &["ph"], T0, MINUTE, 10);
    store.write(&batch).await.expect("write");
    let (from, to) = (T0 + 2 * MINUTE, T0 + 5 * MINUTE);
    let picked: Vec<StationId> = vec!["A".into(), "C".into()];
    let got = store.query(&picked, from, to).await.expect("query");
    let want: Vec<Reading> = batch
        .into_iter()
        .filter(|r| r.station.as_str() != "B" && r.time >= from && r.time < to)
        .collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got, sorted(want));
    assert!(store
        .query(&["nobody".into()], T0, T0 + DAY)
        .await
        .expect("query")
        .is_empty());
}

#[tokio::test]
async fn chunked_query_streams_every_reading_in_order() {
    // 24 series share every timestamp, so chunks of 1000 cut through groups of equal times.
    let (store, _db) = influx_store(Influx::shared(), 5000);
    let stations = ["S1", "S2", "S3", "S4", "S5", "S6"];
    let batch = readings(&stations, &["ph", "do", "nh3n", "cod"], T0, 60_000, 1000);
    let report = store.write(&batch).await.expect("write");
    assert_eq!(report.stored, 24_000);

    let mut chunks = store
        .query_chunks(&[], T0, T0 + 30 * DAY, 1000)
        .await
        .expect("query");
    let (mut all, mut n_chunks, mut biggest) = (Vec::new(), 0, 0);
    while let Some(chunk) = chunks.next_chunk().await.expect("chunk") {
        n_chunks += 1;
        biggest = biggest.max(chunk.len());
        all.extend(chunk);
    }
    assert!(n_chunks >= 20, "{n_chunks} chunks");
    assert!(biggest <= 1000 + 24, "a chunk held {biggest} readings");
    assert_eq!(all.len(), 24_000);
    assert_eq!(all, sorted(batch));
}

#[tokio::test]
async fn partial_write_stores_the_valid_points_and_reports_the_dropped() {
    let server = Influx::shared();
    let (store, db) = influx_store(server, 1000);
    // `value` as a string in the shard group of T0 (7 days): our floats conflict there only.
    let (status, body) = server.write_lines(
        &db,
        &format!("water,parameter=x,station=X value=\"text\" {T0}"),
    );
    assert_eq!(status, 204, "{body}");
    let conflicting = readings(&["A"], &["ph"], T0 + 1, MINUTE, 3);
    let fine = readings(&["A"], &["ph"], T0 + 60 * DAY, MINUTE, 4);
    let batch: Vec<Reading> = conflicting.iter().chain(&fine).cloned().collect();

    let report = store
        .write(&batch)
        .await
        .expect("a partial write is not an error");
    assert_eq!(report.stored, 4);
    assert_eq!(report.rejected.len(), 3);
    assert!(
        report
            .rejected
            .iter()
            .all(|r| r.reason.contains("field type conflict")),
        "{:?}",
        report.rejected
    );
    // Under load the valid points (another shard than the refused ones) were once not yet
    // visible right after the 400 answer; InfluxDB 1.x seems to answer once one shard refused,
    // before the others finished. They are stored, so wait for them rather than fail.
    let back = eventually_async(Duration::from_secs(10), || async {
        let got = store
            .query(&["A".into()], T0, T0 + 90 * DAY)
            .await
            .expect("query");
        (got == fine).then_some(())
    })
    .await;
    assert!(back.is_some(), "the valid points were not stored");
}

#[tokio::test]
async fn readings_line_protocol_cannot_carry_are_reported_not_sent() {
    let (store, _db) = influx_store(Influx::shared(), 1000);
    let mut batch = readings(&["A"], &["ph"], T0, MINUTE, 3);
    batch[1].value = f64::NAN;
    batch[2].station = "bad\\name".into();
    let report = store.write(&batch).await.expect("write");
    assert_eq!(report.stored, 1);
    let refused: Vec<_> = report
        .rejected
        .iter()
        .map(|r| r.reading.as_ref().expect("known reading").time)
        .collect();
    assert_eq!(refused, [T0 + MINUTE, T0 + 2 * MINUTE]);
}

#[tokio::test]
async fn unreachable_server_is_a_transient_error() {
    let url = format!("http://127.0.0.1:{}", free_port())
        .parse()
        .expect("url");
    let store = InfluxStore::new(InfluxOpts {
        attempts: 2,
        ..InfluxOpts::new(url, "x")
    })
    .expect("client");
    let err = store
        .write(&readings(&["A"], &["ph"], T0, MINUTE, 1))
        .await
        .unwrap_err();
    assert!(err.is_transient() && !err.is_bad_data(), "{err}");
    let err = store.query(&[], T0, T0 + 1).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn newest_time_is_the_latest_reading_of_any_series() {
    let (store, _db) = influx_store(Influx::shared(), 1000);
    assert_eq!(store.newest_time().await.expect("empty"), None);
    let mut batch = readings(&["A", "B"], &["ph", "do"], T0, MINUTE, 10);
    batch[3].time = T0 + DAY; // one series runs ahead of the others
    store.write(&batch).await.expect("write");
    assert_eq!(store.newest_time().await.expect("newest"), Some(T0 + DAY));

    let url = Influx::shared().url().parse().expect("url");
    let missing = InfluxStore::new(InfluxOpts::new(url, "never_created")).expect("client");
    let err = missing.newest_time().await.unwrap_err();
    assert!(err.to_string().contains("never_created"), "{err}");
}

#[tokio::test]
async fn missing_database_is_kept_for_later_not_dropped() {
    let server = Influx::shared();
    let url = server.url().parse().expect("url");
    let store = InfluxStore::new(InfluxOpts::new(url, "never_created")).expect("client");
    let err = store
        .write(&readings(&["A"], &["ph"], T0, MINUTE, 1))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert!(
        !err.is_bad_data(),
        "a deployment fault must keep the data: {err}"
    );
}

#[tokio::test]
async fn basic_auth_is_accepted_and_bad_credentials_keep_the_data() {
    let server = Influx::start_with_auth("admin", "s3cret");
    let db = unique_name("t");
    server.create_db(&db);
    let url: reqwest::Url = server.url().parse().expect("url");
    let with = |auth| {
        InfluxStore::new(InfluxOpts {
            auth,
            attempts: 1,
            ..InfluxOpts::new(url.clone(), &db)
        })
        .expect("client")
    };
    let basic = |pw: &str| InfluxAuth::Basic {
        user: "admin".into(),
        password: Secret::new(pw),
    };
    let batch = readings(&["A"], &["ph"], T0, MINUTE, 5);

    let good = with(basic("s3cret"));
    assert_eq!(good.write(&batch).await.expect("write").stored, 5);
    assert_eq!(good.query(&[], T0, T0 + DAY).await.expect("query"), batch);

    // 1.6.7 knows neither a wrong password nor the 2.x token header: 401 either way. Such
    // errors are the deployment's fault, so a spooled store keeps the readings.
    for auth in [
        basic("wrong"),
        InfluxAuth::None,
        InfluxAuth::Token(Secret::new("admin:s3cret")),
    ] {
        let err = with(auth).write(&batch).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Rejected { status: 401, .. }),
            "{err}"
        );
        assert!(!err.is_transient() && !err.is_bad_data(), "{err}");
    }
}
