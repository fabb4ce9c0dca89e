// The sign-in form: the token goes to POST /auth/session, which keeps it as an HttpOnly cookie.

import { session } from "../api.js";
import { h, replace } from "../dom.js";

export function signInView(root, signedIn) {
  const token = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "off", required: true, spellcheck: "false",
  });
  const problem = h("p", { class: "message error", role: "alert" });
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      class: "signin panel",
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        problem.textContent = "";
        try {
          signedIn(await session.signIn(token.value.trim()));
        } catch (error) {
          problem.textContent = `Token refused: ${error.message}`;
          token.select();
        } finally {
          button.disabled = false;
        }
      },
    },
    h("h1", {}, "Sign in"),
    h("p", {}, "This server asks for a token. ", h("code", {}, "tracking tokens create"), " makes one."),
    h("label", { for: "token" }, "Token"),
    token,
    button,
    problem,
  );
  replace(root, form);
  token.focus();
}
