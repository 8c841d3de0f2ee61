// The token dialog (the analyst's name and the API token, kept in sessionStorage) and the
// status line for short messages.

import { credentials, setCredentials } from "./api.js";

/** Opens the token dialog; resolves true when a token was saved. */
export function askToken() {
  const dialog = document.getElementById("token-dialog");
  const c = credentials();
  document.getElementById("token-analyst").value = c?.analyst ?? "";
  document.getElementById("token-input").value = c?.token ?? "";
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "save") {
          const analyst = document.getElementById("token-analyst").value.trim();
          const token = document.getElementById("token-input").value.trim();
          if (analyst && token) {
            setCredentials({ analyst, token });
            resolve(true);
            return;
          }
        } else if (dialog.returnValue === "forget") {
          setCredentials(null);
        }
        resolve(false);
      },
      { once: true },
    );
  });
}

/** A short message in the status line. */
export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.classList.add("visible");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("visible"), 4000);
}
