// Renders the API's own OpenAPI document: operations by tag, their parameters, bodies and responses, and the
// schemas they use. No framework and nothing fetched from elsewhere: the page works offline.
(function () {
  "use strict";
  const root = document.getElementById("docs");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
    return node;
  }

  function refName(ref) { return ref.split("/").pop(); }

  // A schema as a short readable outline: {name: type, ...}, arrays as [type], unions with |.
  function outline(schema, doc, depth, seen) {
    if (!schema) return "any";
    if (schema.$ref) {
      const name = refName(schema.$ref);
      if (seen.has(name) || depth > 3) return name;
      return outline(doc.components.schemas[name], doc, depth, new Set([...seen, name]));
    }
    if (schema.anyOf || schema.oneOf) return (schema.anyOf || schema.oneOf).map((s) => outline(s, doc, depth, seen)).join(" | ");
    if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
    if (schema.const !== undefined) return JSON.stringify(schema.const);
    if (schema.type === "array") return "[" + outline(schema.items, doc, depth, seen) + "]";
    if (schema.type === "object" || schema.properties) {
      const pad = "  ".repeat(depth + 1);
      const required = new Set(schema.required || []);
      const lines = Object.entries(schema.properties || {}).map(([name, prop]) =>
        pad + name + (required.has(name) ? "" : "?") + ": " + outline(prop, doc, depth + 1, seen));
      return "{\n" + lines.join(",\n") + "\n" + "  ".repeat(depth) + "}";
    }
    return schema.format ? schema.type + " (" + schema.format + ")" : schema.type || "any";
  }

  function operation(path, method, op, doc) {
    const body = el("div", {});
    if (op.description) body.append(el("p", {}, op.description));
    if ((op.parameters || []).length) {
      const rows = op.parameters.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
        el("td", {}, outline(p.schema, doc, 0, new Set())), el("td", {}, p.required ? "required" : ""),
        el("td", {class: "muted"}, p.description || "")));
      body.append(el("h4", {}, "Parameters"), el("table", {}, el("tr", {}, ["name", "in", "type", "", ""].map((h) => el("th", {}, h))), rows));
    }
    if (op.requestBody) {
      const schema = op.requestBody.content["application/json"].schema;
      body.append(el("h4", {}, "Body (application/json)"), el("pre", {}, outline(schema, doc, 0, new Set())));
    }
    body.append(el("h4", {}, "Responses"));
    Object.entries(op.responses).forEach(([status, response]) => {
      const media = Object.keys(response.content || {})[0];
      const line = el("p", {}, el("strong", {}, status), " ", response.description, media ? el("span", {class: "muted"}, " — " + media) : "");
      body.append(line);
      if (media && status < "400") body.append(el("pre", {}, outline(response.content[media].schema, doc, 0, new Set())));
      if (response.links) body.append(el("p", {class: "muted"}, "Links: " + Object.keys(response.links).join(", ")));
    });
    return el("details", {class: "op", id: op.operationId},
      el("summary", {}, el("span", {class: "method " + method}, method.toUpperCase()), el("code", {}, path), el("span", {}, op.summary || "")),
      body);
  }

  function render(doc) {
    root.replaceChildren();
    const server = (doc.servers && doc.servers[0] && doc.servers[0].url) || "";
    root.append(el("h1", {}, doc.info.title), el("p", {class: "muted"}, "Version " + doc.info.version + " · base URL " + server + " · ",
      el("a", {href: root.dataset.document}, "openapi.json")), el("p", {}, doc.info.description || ""));
    const byTag = {};
    Object.entries(doc.paths).forEach(([path, methods]) => Object.entries(methods).forEach(([method, op]) => {
      const tag = (op.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push(operation(server + path, method, op, doc));
    }));
    Object.entries(byTag).forEach(([tag, ops]) => root.append(el("h2", {}, tag), ops));
  }

  fetch(root.dataset.document).then((r) => r.json()).then(render).catch((error) => {
    root.replaceChildren(el("p", {}, "The API document could not be loaded: " + error));
  });
})();
