// A small Markdown renderer for untrusted text (model output, memories).
// It builds DOM nodes directly and puts every piece of text in as a text node, so no HTML in the
// input is ever parsed or run: "<img src=x onerror=...>" stays those characters on screen.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_DIVIDER = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;
const SAFE_URL = /^(https?:\/\/|mailto:)/i;

function el(tag, ...children) {
  const node = document.createElement(tag);
  for (const child of children) node.append(child);
  return node;
}

/** True for link targets that cannot run script (http, https and mailto only). */
export function isSafeUrl(url) {
  return SAFE_URL.test(url.trim());
}

function link(text, url) {
  const a = el("a", ...text);
  a.href = url;
  a.rel = "noopener noreferrer nofollow";
  a.target = "_blank";
  return a;
}

function findClosing(text, delimiter, from) {
  let at = text.indexOf(delimiter, from);
  while (at > 0 && text[at - 1] === "\\") at = text.indexOf(delimiter, at + 1);
  return at;
}

/** Inline Markdown (code, bold, italic, strike, links) as an array of nodes. */
export function renderInline(text) {
  const nodes = [];
  let plain = "";
  const flush = () => {
    if (plain) nodes.push(document.createTextNode(plain));
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const ch = text[i];
    if (ch === "\\" && i + 1 < text.length && /[\\`*_{}[\]()#+\-.!~|>]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const ticks = /^`+/.exec(rest)[0];
      const close = text.indexOf(ticks, i + ticks.length);
      if (close > 0) {
        flush();
        nodes.push(el("code", text.slice(i + ticks.length, close).trim() || " "));
        i = close + ticks.length;
        continue;
      }
    }
    const pair = rest.startsWith("**") || rest.startsWith("__") || rest.startsWith("~~");
    if (pair) {
      const delimiter = rest.slice(0, 2);
      const close = findClosing(text, delimiter, i + 2);
      if (close > i + 2) {
        flush();
        const tag = delimiter === "~~" ? "del" : "strong";
        nodes.push(el(tag, ...renderInline(text.slice(i + 2, close))));
        i = close + 2;
        continue;
      }
    }
    const wordStart = i === 0 || !/[\p{L}\p{N}]/u.test(text[i - 1]);
    if ((ch === "*" || (ch === "_" && wordStart)) && text[i + 1] && text[i + 1] !== " ") {
      const close = findClosing(text, ch, i + 1);
      const after = text[close + 1];
      const closesWord = ch === "*" || !after || !/[\p{L}\p{N}]/u.test(after);
      if (close > i + 1 && text[close - 1] !== " " && closesWord) {
        flush();
        nodes.push(el("em", ...renderInline(text.slice(i + 1, close))));
        i = close + 1;
        continue;
      }
    }
    if (ch === "[") {
      const match = /^\[([^\]\n]+)\]\(\s*<?([^\s<>()]+)>?\s*\)/.exec(rest);
      if (match && isSafeUrl(match[2])) {
        flush();
        nodes.push(link(renderInline(match[1]), match[2]));
        i += match[0].length;
        continue;
      }
    }
    if ((ch === "h" || ch === "H") && wordStart) {
      const match = /^https?:\/\/[^\s<>"]+/i.exec(rest);
      if (match) {
        const url = match[0].replace(/[.,;:!?)\]'"]+$/, "");
        flush();
        nodes.push(link([document.createTextNode(url)], url));
        i += url.length;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return nodes;
}

function paragraph(lines) {
  const p = el("p");
  lines.forEach((line, index) => {
    if (index > 0) p.append(el("br"));
    p.append(...renderInline(line.trim()));
  });
  return p;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function table(header, rows) {
  const head = el("tr", ...splitRow(header).map((cell) => el("th", ...renderInline(cell))));
  const body = rows.map((row) => el("tr", ...splitRow(row).map((c) => el("td", ...renderInline(c)))));
  const wrap = el("div", el("table", el("thead", head), el("tbody", ...body)));
  wrap.className = "table-wrap";
  return wrap;
}

function isBlockStart(line, next) {
  return (
    FENCE.test(line) ||
    HEADING.test(line) ||
    RULE.test(line) ||
    QUOTE.test(line) ||
    LIST_ITEM.test(line) ||
    (line.includes("|") && next !== undefined && TABLE_DIVIDER.test(next) && next.includes("-"))
  );
}

function list(lines, start) {
  const first = LIST_ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
  let i = start;
  while (i < lines.length) {
    const match = LIST_ITEM.exec(lines[i]);
    if (!match || match[1].length !== indent || /\d/.test(match[2]) !== ordered) break;
    const body = [match[3]];
    i += 1;
    while (i < lines.length && lines[i].trim() !== "") {
      const nested = LIST_ITEM.exec(lines[i]);
      if (nested && nested[1].length <= indent) break;
      if (!nested && isBlockStart(lines[i], lines[i + 1]) && !/^\s/.test(lines[i])) break;
      body.push(lines[i].slice(Math.min(indent + 2, lines[i].search(/\S|$/))));
      i += 1;
    }
    const item = el("li");
    if (body.length === 1) item.append(...renderInline(body[0].trim()));
    else item.append(renderMarkdown(body.join("\n")));
    node.append(item);
    if (i < lines.length && lines[i].trim() === "" && LIST_ITEM.exec(lines[i + 1] || "")) i += 1;
  }
  return [node, i];
}

/** Render Markdown text into a DocumentFragment of safe nodes (an unclosed code fence, as
 * while an answer streams in, is shown as code so far). */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === "") {
      i += 1;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      const code = el("code", body.join("\n"));
      if (fence[2]) code.dataset.lang = fence[2];
      const pre = el("pre", code);
      if (fence[2]) pre.dataset.lang = fence[2];
      fragment.append(pre);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = Math.min(6, heading[1].length + 2);
      fragment.append(el(`h${level}`, ...renderInline(heading[2])));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      fragment.append(el("hr"));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(QUOTE.exec(lines[i++])[1]);
      fragment.append(el("blockquote", renderMarkdown(body.join("\n"))));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      const [node, next] = list(lines, i);
      fragment.append(node);
      i = next;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_DIVIDER.test(lines[i + 1])) {
      const rows = [];
      let j = i + 2;
      while (j < lines.length && lines[j].includes("|") && lines[j].trim() !== "") rows.push(lines[j++]);
      fragment.append(table(line, rows));
      i = j;
      continue;
    }
    const body = [line];
    i += 1;
    while (i < lines.length && lines[i].trim() !== "" && !isBlockStart(lines[i], lines[i + 1])) {
      body.push(lines[i++]);
    }
    fragment.append(paragraph(body));
  }
  return fragment;
}
