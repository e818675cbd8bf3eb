// recpolicy console: fills the pages from the JSON API (/api/...). No
// inline script anywhere (the Content-Security-Policy forbids it), and
// every value from the server is written with textContent, never as HTML.
"use strict";

const fmtDate = (s) => new Date(s).toLocaleString("fr-CA", { dateStyle: "short", timeStyle: "short" });
const fmtDur = (secs) => {
  const s = Math.round(secs);
  return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
};
const dirs = { inbound: "entrant", outbound: "sortant", other: "autre" };
const greetings = { played: "diffusé (ARI)", fallback: "diffusé par le plan de numérotation", cut_short: "interrompu", none: "aucun (appel sortant ou interne)", unknown: "inconnu" };

async function api(path, opts) {
  const res = await fetch(path, Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, opts || {}));
  if (res.status === 401) {
    location.href = "/connexion";
    throw new Error("session expirée");
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(body.error || ("Erreur " + res.status));
    e.status = res.status;
    throw e;
  }
  return body;
}

// showFacts fills a <dl> with [term, value] rows.
function showFacts(dl, rows) {
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

async function recordingsPage() {
  const form = document.getElementById("filters");
  const status = document.getElementById("status");
  const tbody = document.querySelector("#results tbody");
  const more = document.getElementById("more");
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    if (form.elements[k]) form.elements[k].value = v;
  }
  let next = "";
  let shown = 0;
  async function search(append) {
    const q = new URLSearchParams();
    for (const el of form.elements) {
      if (el.name && el.value) q.set(el.name, el.value);
    }
    history.replaceState(null, "", "?" + q.toString());
    if (append && next) {
      q.set("apres", next);
    } else {
      tbody.replaceChildren();
      shown = 0;
    }
    status.textContent = "Recherche…";
    try {
      const body = await api("/api/recordings?" + q.toString());
      for (const r of body.recordings) {
        const tr = document.createElement("tr");
        cell(tr, fmtDate(r.start));
        cell(tr, r.extension);
        cell(tr, (r.department_names || r.departments || []).join(", "));
        cell(tr, dirs[r.direction] || r.direction);
        cell(tr, fmtDur(r.duration));
        const td = cell(tr, "");
        const a = document.createElement("a");
        a.href = "/enregistrements/" + encodeURIComponent(r.id);
        a.textContent = r.file;
        td.appendChild(a);
        tbody.appendChild(tr);
      }
      shown += body.recordings.length;
      next = body.next || "";
      more.hidden = !next;
      status.textContent = shown + " enregistrement(s)" + (next ? ", les plus récents d'abord" : "");
    } catch (e) {
      status.textContent = e.message;
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(false); });
  more.addEventListener("click", () => search(true));
  search(false);
}

async function recordingPage() {
  const id = location.pathname.split("/").pop();
  const status = document.getElementById("status");
  const facts = document.getElementById("facts");
  let body;
  try {
    body = await api("/api/recordings/" + encodeURIComponent(id));
  } catch (e) {
    document.getElementById("title").textContent = e.status === 404 ? "Enregistrement introuvable" : "Erreur";
    status.textContent = e.message;
    return;
  }
  const r = body.recording;
  document.getElementById("title").textContent = r.file;
  document.getElementById("details").hidden = false; // nothing of it shows for a recording not found
  const rows = [
    ["Date", fmtDate(r.start)], ["Poste", r.extension], ["Service", (r.department_names || r.departments || []).join(", ")],
    ["Sens", dirs[r.direction] || r.direction], ["Durée", fmtDur(r.duration)],
    ["Avis d'enregistrement", greetings[r.greeting] || r.greeting || "—"], ["Règle", r.decision_rule ? r.decision_rule + " — " + (r.decision_reason || "") : "—"],
    ["Version des règles", r.rules_sha256 ? r.rules_sha256.slice(0, 12) : "—"],
    ["Conservation", r.retention_class + (body.keep_until ? ", au moins jusqu'au " + fmtDay(body.keep_until) : "") +
      (body.held ? " ; sous retenue : gardé tant qu'elle dure" : " (plus longtemps sous retenue)")],
    ["Empreinte SHA-256", r.sha256], ["Appel (linkedid)", r.linkedid || "—"],
  ];
  showFacts(facts, rows);
  const legs = document.querySelector("#legs tbody");
  for (const c of body.legs || []) {
    const tr = document.createElement("tr");
    cell(tr, fmtDate(c.start));
    cell(tr, c.from);
    cell(tr, c.to);
    cell(tr, c.channel + " → " + c.destination_channel);
    cell(tr, c.disposition);
    cell(tr, c.billable_seconds + " s");
    legs.appendChild(tr);
  }
  if (!(body.legs || []).length) {
    const tr = document.createElement("tr");
    cell(tr, "Aucun journal d'appel visible pour cet enregistrement.");
    legs.appendChild(tr);
  }
  const holds = document.getElementById("holds");
  for (const h of body.holds || []) {
    const li = document.createElement("li");
    li.textContent = holdKinds[h.kind] + ", placée le " + fmtDay(h.created_at) + (h.case ? " — dossier " + h.case + " : " + h.reason + " (" + h.created_by + ")" : "") +
      (h.released_at ? " ; levée le " + fmtDay(h.released_at) + (h.in_force ? ", garde encore l'enregistrement (catégorie " + h.retention_class + ")" : "") : " ; en vigueur");
    holds.appendChild(li);
  }
  if (!(body.holds || []).length) {
    const li = document.createElement("li");
    li.textContent = "Aucune retenue.";
    holds.appendChild(li);
  }
  if (body.may_train) {
    const a = document.getElementById("train");
    a.href = "/formation/" + encodeURIComponent(id);
    a.hidden = false;
  }
  const section = document.getElementById("listen");
  const select = document.getElementById("purpose");
  const reqLabel = document.getElementById("request-label");
  for (const p of body.purposes) {
    const o = document.createElement("option");
    o.value = p.code;
    o.textContent = p.label;
    o.dataset.request = p.request ? "1" : "";
    select.appendChild(o);
  }
  select.addEventListener("change", () => {
    const o = select.selectedOptions[0];
    reqLabel.hidden = !(o && o.dataset.request);
  });
  section.hidden = false;
  const audio = document.getElementById("audio");
  document.getElementById("purpose-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const payload = { purpose: select.value };
    const req = document.getElementById("request").value.trim();
    if (!reqLabel.hidden && req) payload.request = Number(req);
    try {
      const res = await api("/api/recordings/" + encodeURIComponent(id) + "/ecoute", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(payload),
      });
      document.getElementById("player").hidden = false;
      if (window.WaveSurfer) {
        // The waveform (wavesurfer.js, served by the console itself) loads
        // the audio into the page's audio element; click it to seek.
        const ws = WaveSurfer.create({
          container: "#waveform", media: audio, url: res.audio, height: 80, cspNonce: document.body.dataset.nonce,
          waveColor: "#8aa9cc", progressColor: "#12436b", cursorColor: "#a01818", normalize: true,
        });
        ws.on("ready", () => { ws.play().catch(() => {}); });
        ws.on("error", (e) => { status.textContent = "Forme d'onde indisponible : " + e; audio.src = res.audio; });
      } else {
        audio.src = res.audio;
        audio.play().catch(() => {});
      }
      document.getElementById("purpose-form").hidden = true;
      status.textContent = "Finalité journalisée : " + res.purpose.label;
      if (body.may_download) {
        const a = document.getElementById("download");
        a.href = res.audio + "&telecharger=1";
        a.hidden = false;
      }
    } catch (e) {
      status.textContent = e.message;
    }
  });
  document.getElementById("back10").addEventListener("click", () => { audio.currentTime = Math.max(0, audio.currentTime - 10); });
  document.getElementById("fwd10").addEventListener("click", () => { audio.currentTime = Math.min(audio.duration || 0, audio.currentTime + 10); });
  document.getElementById("speed").addEventListener("change", (ev) => { audio.playbackRate = Number(ev.target.value); });
}

const holdKinds = { recording: "Retenue de l'enregistrement", linkedid: "Retenue de l'appel", extension: "Retenue du poste sur une période" };

const statuses = { received: "reçue, à décider", granted: "accordée", refused: "refusée", closed: "fermée" };
const fmtDay = (s) => (s || "").slice(0, 10);

async function registerPage() {
  const status = document.getElementById("status");
  const tbody = document.querySelector("#requests tbody");
  const openOnly = document.getElementById("open-only");
  async function load() {
    tbody.replaceChildren();
    try {
      const body = await api("/api/requests" + (openOnly.checked ? "?ouvertes=1" : ""));
      for (const q of body.requests) {
        const tr = document.createElement("tr");
        const td = cell(tr, "");
        const a = document.createElement("a");
        a.href = "/registre/" + encodeURIComponent(q.id);
        a.textContent = String(q.id);
        td.appendChild(a);
        cell(tr, fmtDay(q.received_on));
        cell(tr, q.channel);
        cell(tr, q.requester);
        cell(tr, q.subject);
        cell(tr, q.purpose);
        cell(tr, statuses[q.status] || q.status);
        tbody.appendChild(tr);
      }
      status.textContent = body.requests.length + " demande(s)";
      document.getElementById("add").hidden = !body.may_register;
    } catch (e) {
      status.textContent = e.message;
    }
  }
  openOnly.addEventListener("change", load);
  document.getElementById("add-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    const payload = {
      received_on: f.received_on.value, channel: f.channel.value, requester: f.requester.value, purpose: f.purpose.value,
      subject: f.subject.value, recordings: f.recordings.value.split(",").map((x) => Number(x.trim())).filter((x) => x > 0),
    };
    try {
      const res = await api("/api/requests", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(payload) });
      location.href = "/registre/" + encodeURIComponent(res.request.id);
    } catch (e) {
      status.textContent = e.message;
    }
  });
  load();
}

async function requestPage() {
  const id = location.pathname.split("/").pop();
  const status = document.getElementById("status");
  async function load() {
    let body;
    try {
      body = await api("/api/requests/" + encodeURIComponent(id));
    } catch (e) {
      document.getElementById("title").textContent = e.status === 404 ? "Demande introuvable" : "Erreur";
      status.textContent = e.message;
      return;
    }
    const q = body.request;
    document.getElementById("title").textContent = "Demande n° " + q.id + " — " + (statuses[q.status] || q.status);
    const facts = document.getElementById("facts");
    facts.replaceChildren();
    const rows = [
      ["Reçue le", fmtDay(q.received_on) + " par " + q.channel], ["Demandeur", q.requester], ["Motif", q.purpose], ["Objet", q.subject],
      ["Enregistrements visés", (q.recordings || []).join(", ")], ["Inscrite", fmtDate(q.registered_at) + " par " + q.registered_by],
    ];
    if (q.decided_at) rows.push(["Décision", fmtDate(q.decided_at) + " — " + q.decided_by + " (TI) et " + q.greffe_reviewer + " (Greffe) : " + q.decision_note]);
    if (q.closed_at) rows.push(["Fermée", fmtDate(q.closed_at) + " par " + q.closed_by + " : " + q.close_note]);
    showFacts(facts, rows);
    const ul = document.getElementById("opinions");
    ul.replaceChildren();
    for (const o of body.opinions) {
      const li = document.createElement("li");
      li.textContent = fmtDate(o.given_at) + " — " + (o.side === "it" ? "Direction des TI" : "Greffe") + ", " + o.login + " : " +
        (o.grant ? "accorder" : "refuser") + " — " + o.note;
      ul.appendChild(li);
    }
    if (!body.opinions.length) {
      const li = document.createElement("li");
      li.textContent = "Aucun avis encore.";
      ul.appendChild(li);
    }
    const form = document.getElementById("opinion-form");
    form.hidden = !body.may_give_opinion;
    document.getElementById("side").textContent = "Votre avis, pour " + (body.side === "it" ? "la Direction des TI" : "le Greffe") +
      " (la demande est décidée quand les deux avis concordent, donnés par deux personnes distinctes) :";
    const tbody = document.querySelector("#transmissions tbody");
    tbody.replaceChildren();
    for (const t of body.transmissions) {
      const tr = document.createElement("tr");
      cell(tr, String(t.id));
      cell(tr, t.recipient);
      cell(tr, t.channel);
      cell(tr, fmtDay(t.created_at));
      cell(tr, fmtDay(t.destroy_by));
      cell(tr, t.destroyed_statement ? "confirmée : " + t.destroyed_statement : "en attente de confirmation");
      tbody.appendChild(tr);
    }
    const admin = body.may_fulfil;
    document.getElementById("fulfil").hidden = !(admin && q.status === "granted");
    const outstanding = body.transmissions.filter((t) => !t.destroyed_statement);
    const sel = document.querySelector("#destruction-form select");
    sel.replaceChildren();
    for (const t of outstanding) {
      const o = document.createElement("option");
      o.value = String(t.id);
      o.textContent = "n° " + t.id + " — " + t.recipient + ", à détruire au plus tard le " + fmtDay(t.destroy_by);
      sel.appendChild(o);
    }
    document.getElementById("destruction").hidden = !(admin && outstanding.length);
    document.getElementById("closing").hidden = !(admin && (q.status === "granted" || q.status === "refused") && !outstanding.length);
  }
  const post = (path, payload) => api("/api/requests/" + encodeURIComponent(id) + path, {
    method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(payload),
  });
  document.getElementById("package-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    status.textContent = "Production du paquet…";
    try {
      const res = await post("/paquet", { to: f.to.value, via: f.via.value, destroy_by: f.destroy_by.value });
      document.getElementById("passphrase").textContent = res.passphrase;
      document.getElementById("package-sha").textContent = res.sha256;
      const a = document.getElementById("package-link");
      a.href = res.download;
      a.setAttribute("download", res.file);
      document.getElementById("package-made").hidden = false;
      ev.target.reset();
      status.textContent = "Paquet produit : transmission n° " + res.transmission.id + " inscrite au registre.";
      load();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  document.getElementById("destruction-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      await post("/destruction", { transmission: Number(f.transmission.value), statement: f.statement.value });
      ev.target.reset();
      status.textContent = "Confirmation de destruction enregistrée.";
      load();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  document.getElementById("close-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await post("/fermeture", { note: ev.target.elements.note.value });
      status.textContent = "Demande fermée.";
      load();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  document.getElementById("opinion-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target.elements;
    try {
      await api("/api/requests/" + encodeURIComponent(id) + "/avis", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ grant: f.grant.value === "1", note: f.note.value }),
      });
      status.textContent = "Avis enregistré.";
      load();
    } catch (e) {
      status.textContent = e.message;
    }
  });
  load();
}

async function accessLogPage() {
  const form = document.getElementById("filters");
  const chain = document.getElementById("chain");
  const tbody = document.querySelector("#entries tbody");
  async function load() {
    const q = new URLSearchParams();
    for (const el of form.elements) {
      if (el.name && el.value) q.set(el.name, el.value);
    }
    tbody.replaceChildren();
    try {
      const body = await api("/api/access-log?" + q.toString());
      const c = body.chain;
      const kinds = {
        unchained: "ligne écrite hors de la chaîne après son début", missing: "lignes de la chaîne supprimées",
        relinked: "son lien à la ligne précédente ne tient plus : une ligne antérieure a été supprimée ou modifiée",
        altered: "son contenu ne correspond plus à son empreinte : la ligne a été modifiée",
      };
      chain.textContent = (c.breaks && c.breaks.length)
        ? "ATTENTION : la chaîne du journal est rompue en " + c.breaks.length + " endroit(s) : " + c.breaks.map((b) => "ligne " + b.id + " (" + (kinds[b.kind] || b.reason) + ")").join(" ; ")
        : "Chaîne du journal intacte : " + c.rows + " lignes, tête " + c.head_seq + " " + c.head_hash.slice(0, 16) + "…";
      chain.classList.toggle("error", !!(c.breaks && c.breaks.length));
      for (const e of body.entries) {
        const tr = document.createElement("tr");
        cell(tr, fmtDate(e.at));
        cell(tr, e.login);
        cell(tr, e.role);
        cell(tr, e.action);
        cell(tr, e.object);
        cell(tr, e.purpose || "");
        cell(tr, e.outcome === "granted" ? "accordé" : "refusé");
        tbody.appendChild(tr);
      }
    } catch (e) {
      chain.textContent = e.message;
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
}

async function retentionPage() {
  const status = document.getElementById("status");
  const form = document.getElementById("horizon");
  const allHolds = document.getElementById("all-holds");
  async function loadSchedule() {
    const days = document.querySelector("#days tbody");
    const next = document.querySelector("#next tbody");
    const summary = document.getElementById("summary");
    days.replaceChildren();
    next.replaceChildren();
    summary.replaceChildren();
    try {
      const body = await api("/api/conservation?jours=" + encodeURIComponent(form.elements.jours.value || "90"));
      const sc = body.schedule;
      const classes = Object.entries(body.classes_days).map(([k, v]) => k + " " + Math.round(v) + " j").join(", ");
      showFacts(summary, [
        ["Prochaine purge", body.next_purge ? fmtDate(body.next_purge) + " (" + body.purge_schedule + ")" : "aucune planifiée"],
        ["Déjà échus, détruits à la prochaine purge", String(sc.overdue)],
        ["Échus mais gardés par une retenue", String(sc.held_past_due)],
        ["Copies de formation échues d'ici au " + fmtDay(sc.until), String(sc.training_due)],
        ["Durées de conservation", classes],
      ]);
      for (const d of sc.days) {
        const tr = document.createElement("tr");
        cell(tr, d.day);
        cell(tr, String(d.recordings));
        cell(tr, String(d.held));
        days.appendChild(tr);
      }
      if (!sc.days.length) {
        const tr = document.createElement("tr");
        cell(tr, "Rien n'arrive à échéance sur cette période.");
        days.appendChild(tr);
      }
      for (const r of sc.next) {
        const tr = document.createElement("tr");
        const td = cell(tr, "");
        const a = document.createElement("a");
        a.href = "/enregistrements/" + encodeURIComponent(r.id);
        a.textContent = String(r.id);
        td.appendChild(a);
        cell(tr, r.extension);
        cell(tr, fmtDate(r.start));
        cell(tr, r.retention_class);
        cell(tr, fmtDay(r.due_at));
        cell(tr, r.held ? "gardé par une retenue" : (new Date(r.due_at) <= new Date(sc.now) ? "échu : détruit à la prochaine purge" : "à détruire"));
        next.appendChild(tr);
      }
    } catch (e) {
      status.textContent = e.message;
    }
  }
  async function loadHolds() {
    const tbody = document.querySelector("#holds tbody");
    tbody.replaceChildren();
    try {
      const body = await api("/api/holds" + (allHolds.checked ? "?toutes=1" : ""));
      for (const h of body.holds) {
        const tr = document.createElement("tr");
        cell(tr, String(h.id));
        let target = holdKinds[h.kind];
        if (h.kind === "recording") target += " n° " + h.recording_id;
        if (h.kind === "linkedid") target += " " + h.linkedid;
        if (h.kind === "extension") target += " " + h.extension + " du " + fmtDay(h.since) + " au " + fmtDay(h.until);
        cell(tr, target);
        cell(tr, h.case);
        cell(tr, h.reason);
        cell(tr, h.retention_class);
        cell(tr, fmtDay(h.created_at) + " par " + h.created_by);
        cell(tr, h.released_at ? fmtDay(h.released_at) + " par " + h.released_by + " : " + h.release_reason : "en vigueur");
        cell(tr, String(h.recordings));
        cell(tr, String(h.calls));
        tbody.appendChild(tr);
      }
      if (!body.holds.length) {
        const tr = document.createElement("tr");
        cell(tr, "Aucune retenue.");
        tbody.appendChild(tr);
      }
    } catch (e) {
      status.textContent = e.message;
    }
  }
  async function loadRedactions() {
    const tbody = document.querySelector("#redactions tbody");
    tbody.replaceChildren();
    try {
      const body = await api("/api/formation/caviardages");
      for (const r of body.redactions) {
        const tr = document.createElement("tr");
        cell(tr, r.copy_name || "(détruite)");
        const td = cell(tr, "");
        const a = document.createElement("a");
        a.href = "/enregistrements/" + encodeURIComponent(r.source_recording_id);
        a.textContent = String(r.source_recording_id);
        td.appendChild(a);
        cell(tr, r.masks.map((m) => fmtSec(m.start) + " – " + fmtSec(m.end) + (m.channels.length === 1 ? " (citoyen)" : " (les deux)")).join(" ; ") || "aucun");
        cell(tr, r.fill === "silence" ? "silence" : "tonalité");
        cell(tr, r.dropped_channel != null ? "retiré" : "gardé");
        cell(tr, r.confirmed_by);
        cell(tr, fmtDate(r.confirmed_at));
        tbody.appendChild(tr);
      }
      if (!body.redactions.length) {
        const tr = document.createElement("tr");
        cell(tr, "Aucune copie caviardée.");
        tbody.appendChild(tr);
      }
    } catch (e) {
      status.textContent = e.message;
    }
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); loadSchedule(); });
  allHolds.addEventListener("change", loadHolds);
  loadSchedule();
  loadHolds();
  loadRedactions();
}

const fmtSec = (x) => x.toFixed(2).replace(".", ",") + " s";

// trainingPage: a recording opened for training (purpose logged by the
// server), its two channels drawn apart, intervals marked on the waveform
// (drag, or M twice) to be masked on the citizen's channel or both, DTMF
// digits proposed, turns stepped with N and P; what is played is reported
// every second, and the copy can only be produced once the server counts
// every second heard and the operator confirms.
async function trainingPage() {
  const id = location.pathname.split("/").pop();
  const status = document.getElementById("status");
  document.getElementById("back").href = "/enregistrements/" + encodeURIComponent(id);
  const openButton = document.getElementById("open");
  openButton.addEventListener("click", async () => {
    let res;
    try {
      res = await api("/api/recordings/" + encodeURIComponent(id) + "/formation", {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: "{}",
      });
    } catch (e) {
      status.textContent = e.message;
      return;
    }
    document.getElementById("opening").hidden = true;
    document.getElementById("editor").hidden = false;
    status.textContent = "Finalité « Formation » journalisée. Enregistrement du poste " + res.recording.extension + ", " + fmtDur(res.duration) + ".";
    editor(res);
  });

  function editor(res) {
    const stereo = res.channels === 2;
    const base = "/api/formation/" + encodeURIComponent(res.training);
    const audio = document.getElementById("audio");
    const legend = document.getElementById("legend");
    legend.textContent = stereo ? "En haut : la voix de l'employé (le poste). En bas : l'autre partie (le citoyen)." :
      "Enregistrement mono : les deux voix sont mêlées ; chaque masque couvre les deux.";
    document.getElementById("drop-label").hidden = !stereo;
    document.getElementById("padding").textContent = "Chaque intervalle est élargi de " + fmtSec(res.padding) + " de part et d'autre.";
    const regions = WaveSurfer.Regions.create();
    const ws = WaveSurfer.create({
      container: "#waveform", media: audio, url: res.audio, height: stereo ? 70 : 100, cspNonce: document.body.dataset.nonce,
      waveColor: "#8aa9cc", progressColor: "#12436b", cursorColor: "#a01818", normalize: true, plugins: [regions],
      splitChannels: stereo ? [{ waveColor: "#6d9b6d", progressColor: "#2f5f2f" }, { waveColor: "#8aa9cc", progressColor: "#12436b" }] : undefined,
    });
    const masks = new Map(); // region id -> {region, channel, origin}
    let selected = null;
    let markStart = null;
    const tbody = document.querySelector("#masks tbody");
    const colors = { citizen: "rgba(28, 93, 147, 0.25)", both: "rgba(160, 24, 24, 0.25)" };

    function render() {
      tbody.replaceChildren();
      const rows = [...masks.values()].sort((a, b) => a.region.start - b.region.start);
      for (const m of rows) {
        const tr = document.createElement("tr");
        if (m === selected) tr.className = "selected";
        cell(tr, fmtSec(m.region.start));
        cell(tr, fmtSec(m.region.end));
        const td = cell(tr, "");
        if (stereo) {
          const sel = document.createElement("select");
          for (const [v, l] of [["citizen", "le citoyen"], ["both", "les deux"]]) {
            const o = document.createElement("option");
            o.value = v;
            o.textContent = l;
            sel.appendChild(o);
          }
          sel.value = m.channel;
          sel.addEventListener("change", () => { setChannel(m, sel.value); });
          td.appendChild(sel);
        } else {
          td.textContent = "les deux (mono)";
        }
        cell(tr, m.origin);
        const act = cell(tr, "");
        const again = document.createElement("button");
        again.type = "button";
        again.textContent = "Réécouter";
        again.addEventListener("click", () => { select(m); m.region.play(true); });
        const del = document.createElement("button");
        del.type = "button";
        del.textContent = "Retirer";
        del.addEventListener("click", () => { remove(m); });
        act.append(again, " ", del);
        tr.addEventListener("click", (ev) => { if (ev.target.tagName !== "SELECT") select(m); });
        tbody.appendChild(tr);
      }
      if (!rows.length) {
        const tr = document.createElement("tr");
        cell(tr, "Aucun intervalle : glissez sur la forme d'onde, ou appuyez deux fois sur M.");
        tbody.appendChild(tr);
      }
    }
    function track(region, origin) {
      const m = { region, channel: stereo ? "citizen" : "both", origin };
      region.setOptions({ color: colors[m.channel] });
      masks.set(region.id, m);
      selected = m;
      render();
      return m;
    }
    function setChannel(m, ch) {
      m.channel = ch;
      m.region.setOptions({ color: colors[ch] });
      render();
    }
    function select(m) { selected = m; render(); }
    function remove(m) {
      masks.delete(m.region.id);
      m.region.remove();
      if (selected === m) selected = null;
      render();
    }
    regions.enableDragSelection({ color: colors.citizen });
    regions.on("region-created", (region) => { if (!masks.has(region.id)) track(region, "marqué"); });
    regions.on("region-updated", () => render());
    regions.on("region-clicked", (region, ev) => { ev.stopPropagation(); const m = masks.get(region.id); if (m) select(m); });
    ws.on("ready", () => {
      for (const d of res.digits) {
        const region = regions.addRegion({ start: d.start, end: d.end, content: "DTMF " + d.key });
        if (!masks.has(region.id)) track(region, "touche " + d.key + " (proposée)");
        else masks.get(region.id).origin = "touche " + d.key + " (proposée)";
      }
      selected = null;
      render();
      if (res.digits.length) status.textContent += " " + res.digits.length + " touche(s) DTMF trouvée(s) et proposée(s) au masquage.";
    });
    ws.on("error", (e) => { status.textContent = "Forme d'onde indisponible : " + e; });
    render();

    // Turns of speech, all channels, to step through.
    const turns = [];
    (res.turns || []).forEach((ts, c) => { for (const t of ts) turns.push({ start: t.start, end: t.end, channel: c }); });
    turns.sort((a, b) => a.start - b.start);
    const counts = (res.turns || []).map((ts) => ts.length);
    document.getElementById("turns").textContent = stereo ? "Tours de parole : employé " + counts[0] + ", citoyen " + counts[1] + " (N / P pour passer de l'un à l'autre)." :
      "Tours de parole : " + (counts[0] || 0) + " (N / P).";
    function step(dir) {
      const t = audio.currentTime;
      const next = dir > 0 ? turns.find((x) => x.start > t + 0.05) : [...turns].reverse().find((x) => x.start < t - 0.5);
      if (next) ws.setTime(next.start);
    }
    function mark() {
      const t = audio.currentTime;
      if (markStart === null) {
        markStart = t;
        status.textContent = "Début marqué à " + fmtSec(t) + " : M encore pour la fin.";
        return;
      }
      const [a, b] = [Math.min(markStart, t), Math.max(markStart, t)];
      markStart = null;
      if (b - a < 0.05) {
        status.textContent = "Intervalle vide : marquez un début et une fin distincts.";
        return;
      }
      const region = regions.addRegion({ start: a, end: b });
      if (!masks.has(region.id)) track(region, "marqué");
      status.textContent = "Intervalle " + fmtSec(a) + " – " + fmtSec(b) + " ajouté.";
    }
    document.getElementById("play").addEventListener("click", () => ws.playPause());
    document.getElementById("prev-turn").addEventListener("click", () => step(-1));
    document.getElementById("next-turn").addEventListener("click", () => step(1));
    document.getElementById("mark").addEventListener("click", mark);
    document.getElementById("speed").addEventListener("change", (ev) => { audio.playbackRate = Number(ev.target.value); });
    document.addEventListener("keydown", (ev) => {
      const tag = ev.target.tagName;
      if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const k = ev.key.toLowerCase();
      const handled = {
        " ": () => ws.playPause(), "m": mark, "n": () => step(1), "p": () => step(-1),
        "r": () => { if (selected) selected.region.play(true); },
        "c": () => { if (selected && stereo) setChannel(selected, selected.channel === "citizen" ? "both" : "citizen"); },
        "delete": () => { if (selected) remove(selected); }, "backspace": () => { if (selected) remove(selected); },
        "arrowleft": () => ws.setTime(Math.max(0, audio.currentTime - 2)), "arrowright": () => ws.setTime(Math.min(res.duration, audio.currentTime + 2)),
      }[k];
      if (handled) {
        ev.preventDefault();
        handled();
      }
    });

    // What was heard: contiguous playback between two time updates (a seek
    // breaks it), sent every second; the server keeps the count.
    const clock = document.getElementById("clock");
    const bar = document.getElementById("heard-bar");
    const coverage = document.getElementById("coverage");
    const confirm = document.getElementById("confirm");
    const produce = document.getElementById("produce");
    let prev = null;
    let pending = [];
    let complete = false;
    const note = (t) => {
      if (prev !== null && t > prev && t - prev <= 1.5 * Math.max(1, audio.playbackRate)) pending.push([prev, t]);
      prev = t;
    };
    audio.addEventListener("play", () => { prev = audio.currentTime; });
    audio.addEventListener("timeupdate", () => {
      clock.textContent = fmtSec(audio.currentTime) + " / " + fmtSec(res.duration);
      if (!audio.paused) note(audio.currentTime);
    });
    audio.addEventListener("pause", () => { note(audio.currentTime); prev = null; });
    audio.addEventListener("ended", () => { note(audio.duration || res.duration); prev = null; flush(); });
    audio.addEventListener("seeking", () => { prev = null; });
    audio.addEventListener("seeked", () => { prev = audio.paused ? null : audio.currentTime; });
    async function flush() {
      if (!pending.length) return;
      const spans = pending;
      pending = [];
      try {
        const cov = await api(base + "/ecoute", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify({ spans }) });
        bar.value = cov.duration ? cov.heard / cov.duration : 0;
        complete = cov.complete;
        coverage.textContent = complete ? "Tout l'appel a été écouté." :
          "Écouté : " + fmtSec(cov.heard) + " sur " + fmtSec(cov.duration) + " ; reste : " + cov.missing.slice(0, 6).map(([a, b]) => fmtSec(a) + " – " + fmtSec(b)).join(", ") + (cov.missing.length > 6 ? "…" : "");
        confirm.disabled = !complete;
        produce.disabled = !(complete && confirm.checked);
      } catch (e) {
        coverage.textContent = e.message;
      }
    }
    setInterval(flush, 1000);
    confirm.addEventListener("change", () => { produce.disabled = !(complete && confirm.checked); });

    function payload(withConfirm) {
      const form = document.getElementById("copy-form");
      const body = {
        masks: [...masks.values()].map((m) => ({ start: m.region.start, end: m.region.end, channel: m.channel })),
        fill: form.elements.fill.value, drop_citizen: stereo && document.getElementById("drop-citizen").checked,
      };
      if (withConfirm) body.confirm = confirm.checked;
      return JSON.stringify(body);
    }
    const preview = document.getElementById("preview");
    document.getElementById("preview-button").addEventListener("click", async () => {
      const r = await fetch(base + "/apercu", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: payload(false) });
      if (!r.ok) {
        const b = await r.json().catch(() => ({}));
        status.textContent = b.error || ("Erreur " + r.status);
        return;
      }
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.src = URL.createObjectURL(await r.blob());
      preview.hidden = false;
      status.textContent = "Aperçu : " + masks.size + " intervalle(s) masqué(s). Il n'est gardé nulle part.";
      ws.pause();
      preview.play().catch(() => {});
    });
    document.getElementById("copy-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const result = document.getElementById("result");
      try {
        const out = await api(base + "/copie", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: payload(true) });
        result.textContent = "Copie produite : " + out.copy.name + " (" + out.copy.masks + " intervalle(s) masqué(s), " + fmtDur(out.copy.duration) +
          ", catégorie de conservation « " + out.copy.retention_class + " »). Le caviardage est consigné pour l'administration." +
          " Une autre copie (d'autres intervalles) demande de confirmer de nouveau.";
        // A second copy is allowed, but only on a fresh confirmation.
        confirm.checked = false;
        produce.textContent = "Produire une autre copie";
        produce.disabled = true;
      } catch (e) {
        result.textContent = e.message;
      }
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "retention") retentionPage();
  const page = document.body.dataset.page;
  if (page === "recordings") recordingsPage();
  if (page === "recording") recordingPage();
  if (page === "register") registerPage();
  if (page === "request") requestPage();
  if (page === "accesslog") accessLogPage();
  if (page === "training") trainingPage();
});
