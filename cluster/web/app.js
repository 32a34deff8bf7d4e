// Sightline's web page: talks to the coordinator's HTTP API with the token the user gives
// (kept in localStorage). URL fragment parameters: #token=…&k=N&nprobe=N&refine=N&query=ID (a
// search at load).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("token")) {
  localStorage.setItem("sightline-token", params.get("token"));
  // Keep the token out of the address bar and the history.
  params.delete("token");
  history.replaceState(null, "", location.pathname + location.search + (params.toString() ? "#" + params.toString() : ""));
}
$("token").value = localStorage.getItem("sightline-token") || "";
$("token").addEventListener("change", () => {
  localStorage.setItem("sightline-token", $("token").value);
  imageCache.clear();
  refresh();
});
for (const name of ["k", "nprobe", "refine"]) if (params.get(name)) $(name).value = params.get(name);

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if ($("token").value) h["Authorization"] = "Bearer " + $("token").value;
  return h;
}

function say(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

async function api(method, path, body, contentType) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": contentType || "application/json" }) };
  if (body !== undefined) init.body = contentType ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  const text = await response.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch (e) { value = null; }
  if (!response.ok) {
    const message = value && value.error ? value.error.code + ": " + value.error.message : response.status + " " + text;
    throw new Error(message);
  }
  return value;
}

// Images need the token too, so they are fetched and shown from blob URLs.
const imageCache = new Map();
async function imageURL(id) {
  if (imageCache.has(id)) return imageCache.get(id);
  const response = await fetch("/v1/images/" + id, { headers: headers() });
  if (!response.ok) return "";  // not cached: a token entered later may fetch it
  const url = URL.createObjectURL(await response.blob());
  imageCache.set(id, url);
  return url;
}

async function picture(id) {
  const img = document.createElement("img");
  img.alt = "id " + id;
  img.src = await imageURL(id);
  return img;
}

async function loadPicker() {
  const picker = $("picker");
  picker.textContent = "";
  try {
    const sample = await api("GET", "/v1/sample?count=16");
    for (const id of sample.ids) {
      const img = await picture(id);
      img.title = "search with id " + id;
      img.addEventListener("click", () => searchByID(id));
      picker.appendChild(img);
    }
    if (sample.ids.length === 0) picker.textContent = "No images stored: add vectors with thumbnails (sightline ingest --thumbnails).";
  } catch (e) { say(e.message, true); }
}

function searchOptions() {
  return { k: Number($("k").value) || 10, nprobe: Number($("nprobe").value) || 0, refine: Number($("refine").value) || 0 };
}

async function showQuery(content, caption) {
  const query = $("query");
  query.textContent = "";
  if (content) query.appendChild(content);
  const figcaption = document.createElement("figcaption");
  figcaption.textContent = caption;
  query.appendChild(figcaption);
}

async function searchByID(id) {
  const started = performance.now();
  try {
    await showQuery(await picture(id), "query: id " + id);
    const answer = await api("POST", "/v1/search", Object.assign({ ids: [id] }, searchOptions()));
    await showResults(answer, performance.now() - started, id);
  } catch (e) { say(e.message, true); }
}

async function searchByUpload(file) {
  const started = performance.now();
  try {
    const img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    await showQuery(img, "query: " + file.name);
    const options = searchOptions();
    const answer = await api("POST", "/v1/search/image?k=" + options.k + "&nprobe=" + options.nprobe + "&refine=" + options.refine, file,
                             file.type || "application/octet-stream");
    await showResults(answer, performance.now() - started, null);
  } catch (e) { say(e.message, true); }
}

async function showResults(answer, milliseconds, queryID) {
  const grid = $("results");
  grid.textContent = "";
  const hits = answer.results[0];
  const queryIndex = queryID === null ? -1 : hits.ids.indexOf(queryID);
  const queryLabel = queryIndex >= 0 ? hits.labels[queryIndex] : null;
  for (let i = 0; i < hits.ids.length; i++) {
    const figure = document.createElement("figure");
    figure.className = "hit" + (queryLabel !== null && hits.labels[i] === queryLabel ? " same-label" : "");
    figure.dataset.id = hits.ids[i];
    figure.dataset.distance = hits.distances[i];
    figure.appendChild(await picture(hits.ids[i]));
    const caption = document.createElement("figcaption");
    const label = hits.labels[i] === null ? "" : " · label " + hits.labels[i];
    caption.innerHTML = "";
    caption.textContent = "#" + hits.ids[i] + " · d " + Number(hits.distances[i]).toFixed(3) + label;
    figure.appendChild(caption);
    grid.appendChild(figure);
  }
  $("timing").textContent = hits.ids.length + " in " + milliseconds.toFixed(0) + " ms" + (answer.partial ? " (partial: shards "
    + answer.missing_shards.join(", ") + " missing)" : "");
  say("");
}

async function fileBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

async function verify() {
  const verdict = $("verdict");
  try {
    const files = $("verify-files").files;
    const body = {};
    if (files.length === 2) body.images = [await fileBase64(files[0]), await fileBase64(files[1])];
    else body.ids = [Number($("verify-a").value), Number($("verify-b").value)];
    if ($("threshold").value !== "") body.threshold = Number($("threshold").value);
    const answer = await api("POST", "/v1/verify", body);
    verdict.className = "";
    verdict.textContent = (answer.same ? "Same" : "Different") + ": distance " + answer.distance.toFixed(3)
      + (answer.same ? " ≤ " : " > ") + "threshold " + answer.threshold + (answer.approximate ? " (from PQ codes)" : "");
  } catch (e) { verdict.className = "error"; verdict.textContent = e.message; }
}

async function refreshCluster() {
  try {
    const stats = await api("GET", "/v1/stats");
    $("totals").textContent = stats.total_vectors.toLocaleString() + " vectors of " + stats.dimension + " dimensions on "
      + stats.shards.length + " shards";
    const body = $("shards").querySelector("tbody");
    body.textContent = "";
    for (const shard of stats.shards) {
      const row = document.createElement("tr");
      for (const value of [shard.shard, shard.url, shard.reachable ? "yes" : "no", shard.vector_count.toLocaleString(),
                           Number(shard.latency_p50_ms).toFixed(2), Number(shard.latency_p99_ms).toFixed(2), shard.queries_served]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.appendChild(cell);
      }
      body.appendChild(row);
    }
  } catch (e) { say(e.message, true); }
}

async function refresh() {
  await Promise.all([loadPicker(), refreshCluster()]);
}

$("more").addEventListener("click", loadPicker);
$("upload").addEventListener("change", (event) => { if (event.target.files[0]) searchByUpload(event.target.files[0]); });
$("verify").addEventListener("click", verify);
setInterval(refreshCluster, 5000);
refresh().then(() => { if (params.get("query")) searchByID(Number(params.get("query"))); });
