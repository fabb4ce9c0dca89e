// Builds elements from data without ever parsing it as markup: text goes in as text nodes,
// attributes through setAttribute. Nothing here (or anywhere in the dashboard) uses innerHTML.

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  add(element, children);
  return element;
}

export function add(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// Words (a title's, a command's, a job's name), each in a box of its own: a line breaks
// between words (not after a hyphen inside one, as in --data), and inside one only when it is
// wider than the line.
export function unbroken(text) {
  return text.split(" ").map((word, i) => [i ? " " : null, h("span", { class: "word" }, word)]);
}

export function replace(element, ...children) {
  element.replaceChildren();
  return add(element, children);
}

// A definition list of [term, value] pairs; pairs whose value is empty are left out.
export function facts(pairs) {
  const list = h("dl", { class: "facts" });
  for (const [term, value] of pairs) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    list.append(h("div", {}, h("dt", {}, term), h("dd", {}, value)));
  }
  return list;
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

export function link(href, text) {
  return h("a", { href }, text);
}

// A table of rows of cells; at phone width each cell shows its heading (data-label).
export function table(headings, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "list" },
      h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c, i) => h("td", { "data-label": headings[i] }, h("div", {}, c)))))),
    ),
  );
}
