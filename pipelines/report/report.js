/* The advocacy report, drawn client-side from the embedded mart tables.
 *
 * Every figure on the page is a "fact": a small descriptor naming the table, column and row
 * filter it comes from ({op: 'cell'|'sum', t, c, w}, or 'ratio' / 'change' / 'diff' of two
 * facts), evaluated here on the embedded rows and written into a <span class="fact"> with
 * its descriptor (data-fact), raw value (data-v) and format (data-fmt). The test suite reads
 * every such span and every chart point (trace.meta.facts) and evaluates the same descriptors
 * on the marts with its own SQL. Text with digits that is not a fact is a label (class lbl).
 */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var T = {};
  Object.keys(D.tables).forEach(function (name) {
    var t = D.tables[name];
    T[name] = t.rows.map(function (r) {
      var o = {};
      t.columns.forEach(function (c, i) { o[c] = r[i]; });
      return o;
    });
  });
  var CUR = D.currency || "";
  var ALPHA = 0.05;
  var MODELS = ["first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay"];
  var MODEL_NAMES = {first_touch: "first touch", last_touch: "last touch", linear: "linear",
    u_shaped: "U-shaped", w_shaped: "W-shaped", time_decay: "time decay"};
  var TRANSITIONS = [["lead_to_mql", "lead", "MQL", "leads", "mqls"], ["mql_to_sql", "MQL", "SQL", "mqls", "sqls"],
    ["sql_to_opportunity", "SQL", "opportunity", "sqls", "opportunities"],
    ["opportunity_to_won", "opportunity", "won", "opportunities", "won"], ["lead_to_won", "lead", "won", "leads", "won"]];
  var DOW = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

  // ---- facts ------------------------------------------------------------------------------
  function match(row, w) {
    for (var k in w) { if (String(row[k]) !== String(w[k])) return false; }
    return true;
  }
  function evaluate(f) {
    var a, b;
    switch (f.op) {
      case "cell":
        var rows = T[f.t].filter(function (r) { return match(r, f.w); });
        return rows.length ? rows[0][f.c] : null;
      case "sum":
        var s = 0, any = false;
        T[f.t].forEach(function (r) { if (match(r, f.w) && r[f.c] !== null) { s += r[f.c]; any = true; } });
        return any ? s : 0;
      case "ratio":
        a = evaluate(f.a); b = evaluate(f.b);
        return (a === null || b === null || b === 0) ? null : a / b;
      case "change":
        a = evaluate(f.a); b = evaluate(f.b);
        return (a === null || b === null || b === 0) ? null : a / b - 1;
      case "count":
        return T[f.t].filter(function (r) { return match(r, f.w); }).length;
      case "diff":
        a = evaluate(f.a); b = evaluate(f.b);
        return (a === null || b === null) ? null : a - b;
    }
    throw new Error("unknown fact op " + f.op);
  }
  function cell(t, c, w) { return {op: "cell", t: t, c: c, w: w}; }
  function sum(t, c, w) { return {op: "sum", t: t, c: c, w: w}; }
  function ratio(a, b) { return {op: "ratio", a: a, b: b}; }
  function change(a, b) { return {op: "change", a: a, b: b}; }

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function group(n, digits) {
    var s = Math.abs(n).toFixed(digits), parts = s.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (n < 0 ? "-" : "") + parts.join(".");
  }
  function format(v, fmt) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) return "n/a";
    switch (fmt) {
      case "int": return group(v, 0);
      case "num1": return group(v, 1);
      case "num2": return v.toFixed(2);
      case "money": return CUR + " " + group(v, 0);
      case "money2": return CUR + " " + group(v, 2);
      case "pct": return (100 * v).toFixed(1) + " %";
      case "chg": return (v >= 0 ? "+" : "") + (100 * v).toFixed(0) + " %";
      case "pp": return (v >= 0 ? "+" : "") + (100 * v).toFixed(1) + " pt";
      case "p": return v < 0.001 ? "p < 0.001" : "p = " + v.toFixed(3);
      case "r": return v.toFixed(2);
      case "text": return String(v);
    }
    throw new Error("unknown format " + fmt);
  }
  function fact(f, fmt) {
    var v = evaluate(f);
    return '<span class="fact" data-fmt="' + fmt + '" data-v="' + esc(JSON.stringify(v)) +
      '" data-fact="' + esc(JSON.stringify(f)) + '">' + esc(format(v, fmt)) + "</span>";
  }
  function lbl(text) { return '<span class="lbl">' + esc(text) + "</span>"; }
  // fixed wording that happens to hold digits ("95 %", "GA4"): the test knows the list
  function st(text) { return '<span class="static">' + esc(text) + "</span>"; }
  function table(header, rows, cls) {
    return '<table class="' + (cls || "") + '"><thead><tr>' + header.map(function (h, i) {
      return "<th" + (i === 0 ? ' class="t"' : "") + ">" + h + "</th>";
    }).join("") + "</tr></thead><tbody>" + rows.map(function (r) {
      return "<tr" + (r.cls ? ' class="' + r.cls + '"' : "") + ">" + (r.cells || r).map(function (c) {
        return "<td>" + c + "</td>";
      }).join("") + "</tr>";
    }).join("") + "</tbody></table>";
  }
  function reading(html) { return '<p class="reading">' + html + "</p>"; }
  function set(id, html) { document.querySelector("#" + id + " .content").innerHTML = html; }

  // ---- periods, segments ------------------------------------------------------------------
  var FISCAL = D.fiscal_year_start_month || 1;
  function quarterLabel(start) {
    var y = +start.slice(0, 4), m = +start.slice(5, 7);
    var q = Math.floor(((m - FISCAL + 12) % 12) / 3) + 1;
    if (FISCAL === 1) return y + " Q" + q;
    var fy = m >= FISCAL ? y + 1 : y;
    return "FY" + fy + " Q" + q + " (from " + start + ")";
  }
  var quarters = {};
  ["funnel", "pipeline", "traffic_dow", "value"].forEach(function (t) {
    T[t].forEach(function (r) { quarters[r.period_start] = true; });
  });
  var QUARTERS = Object.keys(quarters).sort();
  function prevQuarter(q) {
    var d = new Date(q + "T00:00:00Z");
    d.setUTCMonth(d.getUTCMonth() - 3);
    return d.toISOString().slice(0, 10);
  }
  // segments are read from the data (advocacy first): a new segment value appears by itself
  var segs = {};
  ["funnel", "pipeline", "traffic_dow"].forEach(function (t) { T[t].forEach(function (r) { segs[r.segment] = true; }); });
  var SEGMENTS = Object.keys(segs).sort(function (a, b) {
    return (a === "advocacy" ? -1 : b === "advocacy" ? 1 : a < b ? -1 : a > b ? 1 : 0);
  });
  var COLORS = ["#3b6fd8", "#9aa3b2", "#e59a2f", "#5bb174", "#b05bd0"];
  function segColor(s) { return COLORS[SEGMENTS.indexOf(s) % COLORS.length]; }

  // ---- pickers ----------------------------------------------------------------------------
  var qp = document.getElementById("quarter-picker"), mp = document.getElementById("model-picker");
  QUARTERS.forEach(function (q) { qp.insertAdjacentHTML("beforeend", '<option value="' + q + '">' + esc(quarterLabel(q)) + "</option>"); });
  MODELS.forEach(function (m) { mp.insertAdjacentHTML("beforeend", '<option value="' + m + '">' + esc(MODEL_NAMES[m]) + "</option>"); });
  // the last complete quarter by default (the current one is still filling)
  var asOf = (T.manifest[0] || {}).as_of || QUARTERS[QUARTERS.length - 1];
  var complete = QUARTERS.filter(function (q) { var n = new Date(q + "T00:00:00Z"); n.setUTCMonth(n.getUTCMonth() + 3); return n.toISOString().slice(0, 10) <= asOf; });
  qp.value = (complete.length ? complete : QUARTERS)[(complete.length ? complete : QUARTERS).length - 1] || "";
  mp.value = "w_shaped";

  var meta = T.manifest[0];
  document.getElementById("meta").innerHTML = meta
    ? "Data as of " + lbl(meta.as_of) + ", built " + lbl(String(meta.run_started_at).replace("T", " ").slice(0, 16)) +
      " UTC; amounts in " + esc(meta.reporting_currency) + "."
    : "No build recorded in run_manifest.";

  // ---- sections ---------------------------------------------------------------------------
  function banner() {
    var bad = T.data_quality.filter(function (r) { return r.status === "warn" || r.status === "fail"; });
    if (!bad.length) { document.getElementById("banner").innerHTML = ""; return; }
    var stale = bad.filter(function (r) { return r.check === "freshness_hours"; });
    // a source missing from the night (its sync failed): the figures leave it out
    var missing = bad.filter(function (r) { return r.check === "source_complete"; });
    document.getElementById("banner").innerHTML = '<div class="banner"><strong>' +
      (missing.length ? "Incomplete: " + missing.map(function (r) { return esc(r.source); }).join(", ") +
        " missing from this build, its figures are left out (the published marts keep the last complete night)" :
       stale.length ? "A source is stale" + (bad.length > stale.length ? " and checks failed" : "") : "Data-quality checks failed") +
      ":</strong><ul>" + bad.map(function (r) {
        var w = {check: r.check, source: r.source, detail: r.detail};
        return "<li>" + fact(cell("data_quality", "check", w), "text") + " (" + fact(cell("data_quality", "source", w), "text") + "): " + fact(cell("data_quality", "detail", {check: r.check, source: r.source, detail: r.detail}), "text") + "</li>";
      }).join("") + "</ul></div>";
  }

  function headline(q, m) {
    var p = prevQuarter(q), P = quarterLabel(p);
    var shares = [
      ["sessions", "traffic_dow", "sessions", {period_start: q}],
      ["leads", "funnel", "leads", {period_start: q}],
      ["credited pipeline", "pipeline", "pipeline_amount", {period_start: q, model: m}],
      ["credited won revenue", "pipeline", "won_amount", {period_start: q, model: m}]
    ];
    var cards = shares.map(function (s) {
      var w = Object.assign({segment: "advocacy"}, s[3]);
      return '<div class="card"><div class="sub">Advocacy share of ' + s[0] + '</div><div class="big">' +
        fact(ratio(sum(s[1], s[2], w), sum(s[1], s[2], s[3])), "pct") + '</div><div class="sub">' +
        fact(sum(s[1], s[2], w), s[2].indexOf("amount") >= 0 ? "money" : "int") + " of " +
        fact(sum(s[1], s[2], s[3]), s[2].indexOf("amount") >= 0 ? "money" : "int") + "</div></div>";
    }).join("");
    var qoq = [
      ["advocacy clicks (platform export)", sum("value", "clicks", {period_start: q}), sum("value", "clicks", {period_start: p})],
      ["advocacy sessions (" + st("GA4") + ")", sum("traffic_dow", "sessions", {period_start: q, segment: "advocacy"}),
        sum("traffic_dow", "sessions", {period_start: p, segment: "advocacy"})],
      ["advocacy-sourced leads", sum("funnel", "leads", {period_start: q, segment: "advocacy"}),
        sum("funnel", "leads", {period_start: p, segment: "advocacy"})],
      ["won deals credited to advocacy (" + MODEL_NAMES[m] + ")", sum("pipeline", "won_count", {period_start: q, segment: "advocacy", model: m}),
        sum("pipeline", "won_count", {period_start: p, segment: "advocacy", model: m})]
    ];
    var rows = qoq.map(function (r) {
      var fmt = r[0].indexOf("won deals") === 0 ? "num1" : "int";
      return [r[0], fact(r[1], fmt), fact(r[2], fmt), fact(change(r[1], r[2]), "chg")];
    });
    var sess = qoq[1], ch = evaluate(change(sess[1], sess[2]));
    var read = "In " + lbl(quarterLabel(q)) + " advocacy brought " +
      fact(ratio(sum("traffic_dow", "sessions", {period_start: q, segment: "advocacy"}), sum("traffic_dow", "sessions", {period_start: q})), "pct") +
      " of sessions and " + fact(ratio(sum("funnel", "leads", {period_start: q, segment: "advocacy"}), sum("funnel", "leads", {period_start: q})), "pct") +
      " of leads; " + (ch === null ? "no sessions in " + lbl(P) + " to compare with (not enough data)."
        : "quarter over quarter, advocacy sessions " + fact(change(sess[1], sess[2]), "chg") + " on " + lbl(P) +
          ", advocacy-sourced leads " + fact(change(qoq[2][1], qoq[2][2]), "chg") + ".");
    set("headline", reading(read) + '<div class="cards">' + cards + "</div>" +
      table(["quarter over quarter", lbl(quarterLabel(q)), lbl(P), "change"], rows) +
      '<p class="note">Change = this quarter over the previous one, less one: the way published advocacy case studies report it. Won deals are credited counts under the selected model.</p>');
  }

  function verdict(q, tr) {
    var c = cell("comparison", "p_value", {period_start: q, transition: tr});
    var pv = evaluate(c);
    if (pv === null) {
      var note = evaluate(cell("comparison", "stat_note", {period_start: q, transition: tr}));
      return {text: "not enough data" + (note ? " (" + fact(cell("comparison", "stat_note", {period_start: q, transition: tr}), "text") + ")" : ""), sig: null};
    }
    return {text: (pv < ALPHA ? "significant, " : "not significant, ") + fact(c, "p"), sig: pv < ALPHA};
  }

  var charts = {};
  function plot(id, traces, layout) {
    layout = Object.assign({margin: {l: 60, r: 20, t: 30, b: 50}, font: {size: 12}, legend: {orientation: "h"}}, layout);
    var cfg = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud"]};
    if (charts[id]) Plotly.react(id, traces, layout, cfg); else Plotly.newPlot(id, traces, layout, cfg);
    charts[id] = true;
  }
  // y values (and their facts) of a trace, from descriptors
  function series(facts) {
    return {values: facts.map(evaluate), facts: facts};
  }

  function funnel(q) {
    var stages = [["leads", "leads"], ["mqls", "MQL"], ["sqls", "SQL"], ["opportunities", "opportunity"], ["won", "won"]];
    var rows = SEGMENTS.map(function (s) {
      var w = {period_start: q, segment: s};
      return [esc(s)].concat(stages.map(function (st) { return fact(cell("funnel", st[0], w), "int"); }))
        .concat([fact(cell("funnel", "won_amount", w), "money")]);
    });
    var trRows = TRANSITIONS.map(function (tr) {
      var w = {period_start: q, transition: tr[0]}, v = verdict(q, tr[0]);
      return [esc(tr[1] + " \u2192 " + tr[2]), fact(cell("comparison", "advocacy_rate", w), "pct"),
        fact(cell("comparison", "other_rate", w), "pct"), fact(cell("comparison", "difference", w), "pp"),
        fact(cell("comparison", "difference_ci_low", w), "pp") + " to " + fact(cell("comparison", "difference_ci_high", w), "pp"),
        v.text];
    });
    var main = TRANSITIONS[0], mv = verdict(q, main[0]), w0 = {period_start: q, transition: main[0]};
    var mature = evaluate(cell("funnel", "is_mature", {period_start: q, segment: "advocacy"}));
    var read = "Advocacy leads reached MQL at " + fact(cell("comparison", "advocacy_rate", w0), "pct") + " vs " +
      fact(cell("comparison", "other_rate", w0), "pct") + " for other leads; " +
      (mv.sig === null ? mv.text : "the difference is " + mv.text) + "." +
      (mature ? "" : " This cohort is not mature yet: its leads are still progressing, so later-stage rates will rise.");
    set("funnel", reading(read) +
      table(["segment", "leads", "MQL", "SQL", "opportunity", "won", "won amount"], rows) +
      table(["stage transition", "advocacy", "other", "difference", st("95 %") + " interval of the difference", "significance"], trRows) +
      '<p class="note">Cohort = leads created in the quarter. Cohort maturity: ' +
      (mature ? "mature (the quarter ended long enough before the data date for its leads to progress)." : "not mature.") +
      " Rates with Wilson " + st("95 %") + " intervals (error bars); p-values from the marts' two-proportion test; significant below " + st("p = 0.05") + ".</p>");
    var traces = SEGMENTS.map(function (s) {
      var keys = TRANSITIONS.map(function (tr) { return tr[0]; });
      var w = {period_start: q, segment: s};
      var y = series(keys.map(function (k) { return cell("funnel", k + "_rate", w); }));
      var lo = keys.map(function (k) { return evaluate(cell("funnel", k + "_rate_ci_low", w)); });
      var hi = keys.map(function (k) { return evaluate(cell("funnel", k + "_rate_ci_high", w)); });
      return {type: "bar", name: s, x: TRANSITIONS.map(function (tr) { return tr[1] + "\u2192" + tr[2]; }), y: y.values,
        marker: {color: segColor(s)}, meta: {facts: y.facts},
        error_y: {type: "data", symmetric: false,
          array: y.values.map(function (v, i) { return v === null || hi[i] === null ? 0 : hi[i] - v; }),
          arrayminus: y.values.map(function (v, i) { return v === null || lo[i] === null ? 0 : v - lo[i]; })}};
    });
    plot("chart-funnel", traces, {barmode: "group", title: {text: "Conversion rate by stage, 95 % intervals"}, yaxis: {tickformat: ".0%", rangemode: "tozero"}});
  }

  function pipeline(q, m) {
    var cols = [["pipeline_amount", "credited pipeline", "money"], ["won_amount", "credited won", "money"],
      ["sourced_pipeline", "sourced pipeline", "money"], ["sourced_won", "sourced won", "money"],
      ["influenced_pipeline", "influenced pipeline", "money"], ["influenced_won", "influenced won", "money"],
      ["close_rate", "close rate", "pct"], ["avg_won_amount", "deal size", "money"],
      ["median_cycle_days", "cycle (days)", "num1"], ["new_customers", "new customers", "num1"]];
    var rows = SEGMENTS.map(function (s) {
      var w = {period_start: q, segment: s, model: m};
      return [esc(s)].concat(cols.map(function (c) { return fact(cell("pipeline", c[0], w), c[2]); }));
    });
    var byModel = MODELS.map(function (mo) {
      return [esc(MODEL_NAMES[mo])].concat(SEGMENTS.map(function (s) {
        var w = {period_start: q, segment: s, model: mo};
        return fact(cell("pipeline", "pipeline_amount", w), "money") + " / " + fact(cell("pipeline", "won_amount", w), "money");
      }));
    });
    var wa = {period_start: q, segment: "advocacy", model: m}, wall = {period_start: q, model: m};
    var read = "Under the " + esc(MODEL_NAMES[m]) + " model advocacy touches earn " + fact(cell("pipeline", "pipeline_amount", wa), "money") +
      " of credited pipeline (" + fact(ratio(cell("pipeline", "pipeline_amount", wa), sum("pipeline", "pipeline_amount", wall)), "pct") +
      " of the quarter's); advocacy sourced " + fact(cell("pipeline", "sourced_pipeline", wa), "money") + " and influenced " +
      fact(cell("pipeline", "influenced_pipeline", wa), "money") + ". These are totals of all opportunities, not a sample: no significance test applies.";
    set("pipeline", reading(read) + table(["segment"].concat(cols.map(function (c) { return c[1]; })), rows) +
      table(["model (credited pipeline / credited won)"].concat(SEGMENTS.map(esc)), byModel) +
      '<p class="note">Sourced = the segment of the opportunity\'s earliest linked lead; influenced = at least one touch of the segment (not additive across segments); credited = the selected model\'s credit &times; amount. Close rate, deal size, cycle and new customers use credited counts.</p>');
    var traces = [];
    SEGMENTS.forEach(function (s) {
      [["pipeline_amount", "pipeline"], ["won_amount", "won"]].forEach(function (c, k) {
        var y = series(MODELS.map(function (mo) { return cell("pipeline", c[0], {period_start: q, segment: s, model: mo}); }));
        traces.push({type: "bar", name: s + " " + c[1], x: MODELS.map(function (mo) { return MODEL_NAMES[mo]; }), y: y.values,
          meta: {facts: y.facts}, marker: {color: segColor(s), opacity: k ? 0.55 : 1}});
      });
    });
    plot("chart-pipeline", traces, {barmode: "group", title: {text: "Credited pipeline and won revenue by model"}});
  }

  // all opportunities created up to as_of, every model side by side (marts.model_comparison)
  // and the channels' data-driven credit from the lead paths (marts.data_driven_credit)
  var DD_MODELS = ["markov", "shapley", "leave_one_out"];
  var DD_NAMES = {markov: "Markov removal effect", shapley: "Shapley", leave_one_out: "leave-one-out (comparison)"};
  function dataDriven() {
    var present = MODELS.concat(DD_MODELS).filter(function (m) {
      return T.model_comparison.some(function (r) { return r.model === m; });
    });
    if (!present.length) { set("data-driven", reading("No data-driven attribution in this build: not enough data.")); return; }
    function mc(m, c, fmt) { return fact(cell("model_comparison", c, {model: m}), fmt); }
    function v(m, c) { return evaluate(cell("model_comparison", c, {model: m})); }
    function name(m) { return MODEL_NAMES[m] || DD_NAMES[m]; }
    var rules = MODELS.filter(function (m) { return present.indexOf(m) >= 0 && v(m, "advocacy_pipeline_share") !== null; });
    rules.sort(function (a, b) { return v(a, "advocacy_pipeline_share") - v(b, "advocacy_pipeline_share"); });
    var read = "";
    if (rules.length) {
      read += "Over the rule models advocacy earns from " + mc(rules[0], "advocacy_pipeline_share", "pct") + " (" + esc(name(rules[0])) +
        ") to " + mc(rules[rules.length - 1], "advocacy_pipeline_share", "pct") + " (" + esc(name(rules[rules.length - 1])) +
        ") of all pipeline created up to " + lbl(asOf) + ". ";
    }
    var lo = v("markov", "ci_low"), hi = v("markov", "ci_high");
    if (v("markov", "advocacy_pipeline_share") === null || lo === null) {
      read += "The data-driven models have not enough data (too few mature paths) for an interval.";
    } else {
      read += "Learnt from the paths that converted and those that did not, the Markov model credits advocacy with " +
        mc("markov", "advocacy_pipeline_share", "pct") + " (" + st("95 %") + " interval " + mc("markov", "ci_low", "pct") + " to " +
        mc("markov", "ci_high", "pct") + ")" + (v("shapley", "advocacy_pipeline_share") !== null ? ", Shapley with " +
        mc("shapley", "advocacy_pipeline_share", "pct") + " (" + mc("shapley", "ci_low", "pct") + " to " + mc("shapley", "ci_high", "pct") + ")" : "") + ". ";
      var outside = rules.filter(function (m) { var s = v(m, "advocacy_pipeline_share"); return s < lo || s > hi; });
      read += outside.length
        ? "The " + outside.map(function (m) { return esc(name(m)); }).join(", ") + " model" + (outside.length > 1 ? "s fall" : " falls") +
          " outside that interval: " + (outside.length > 1 ? "they" : "it") + " over- or under-state advocacy compared with what the paths support; read " +
          (outside.length > 1 ? "them" : "it") + " as a convention, not a measurement. "
        : "Every rule model lies inside that interval: whichever rule you pick, the data cannot tell it apart from the measured share. ";
      if (v("markov", "advocacy_rank") !== null) {
        read += "Advocacy ranks " + mc("markov", "advocacy_rank", "int") + " of " + mc("markov", "n_channels", "int") +
          " channels under Markov, the same rank in " + mc("markov", "rank_stability", "pct") + " of the bootstrap replicates.";
      }
    }
    var rows = present.map(function (m) {
      return [esc(name(m)), mc(m, "model_family", "text"), mc(m, "advocacy_pipeline_share", "pct"),
        mc(m, "ci_low", "pct") + " to " + mc(m, "ci_high", "pct"), mc(m, "advocacy_pipeline_amount", "money"),
        mc(m, "advocacy_rank", "int") + " of " + mc(m, "n_channels", "int"), mc(m, "rank_stability", "pct")];
    });
    var channels = T.data_driven.filter(function (r) { return r.path_kind === "lead" && r.dimension === "channel" && r.model === "markov"; });
    var credit = channels.map(function (r) {
      function dd(m, k) {
        var w = {path_kind: "lead", dimension: "channel", model: m, channel_or_segment: r.channel_or_segment};
        if (r.is_suppressed) return k ? "&mdash;" : fact(cell("data_driven", "note", w), "text");
        return fact(cell("data_driven", "credit", w), "pct") + " (" + fact(cell("data_driven", "ci_low", w), "pct") + " to " + fact(cell("data_driven", "ci_high", w), "pct") + ")";
      }
      var w0 = {path_kind: "lead", dimension: "channel", model: "markov", channel_or_segment: r.channel_or_segment};
      return [esc(r.channel_or_segment), fact(cell("data_driven", "n_paths", w0), "int"), fact(cell("data_driven", "n_converting_paths", w0), "int")]
        .concat(DD_MODELS.map(dd));
    });
    var reps = present.length ? mc(present[0], "n_replicates", "int") : "";
    set("data-driven", reading(read) +
      table(["model", "family", "advocacy share of pipeline", st("95 %") + " interval", "advocacy pipeline", "advocacy rank", "rank stability"], rows) +
      "<h3>Channels' share of the credit for bringing pipeline (lead paths, all mature leads)</h3>" +
      table(["channel", "paths", "converting"].concat(DD_MODELS.map(function (m) { return esc(DD_NAMES[m]) + " (" + st("95 %") + " interval)"; })), credit) +
      '<p class="note">Paths: each lead\'s touches up to its opportunity (converting) or up to now (not converting), only leads old enough to have converted (maturity). Markov: how much of the conversion probability is lost without the channel, computed exactly. Shapley: the channel\'s average added conversion rate over every coalition of channels (it can be negative). Intervals: percentile bootstrap over ' +
      reps + " replicates resampling persons and accounts, seeded: the same data give the same intervals. Rule models credit each opportunity by position; the data-driven shares split each opportunity's amount over its channels by the learnt weights. Channels in too few paths are suppressed.</p>");
    var y = series(present.map(function (m) { return cell("model_comparison", "advocacy_pipeline_share", {model: m}); }));
    var low = present.map(function (m) { return v(m, "ci_low"); }), high = present.map(function (m) { return v(m, "ci_high"); });
    plot("chart-data-driven", [{type: "bar", name: "advocacy share of pipeline", x: present.map(name), y: y.values, meta: {facts: y.facts},
      marker: {color: present.map(function (m) { return MODELS.indexOf(m) >= 0 ? "#9aa3b2" : "#3b6fd8"; })},
      error_y: {type: "data", symmetric: false, array: y.values.map(function (s, i) { return high[i] === null ? 0 : high[i] - s; }),
        arrayminus: y.values.map(function (s, i) { return low[i] === null ? 0 : s - low[i]; })}}],
      {title: {text: "Advocacy's share of pipeline by model, with 95 % intervals"}, yaxis: {tickformat: ".0%"}});
  }

  function weekday(q) {
    var p = prevQuarter(q);
    function bars(table, col, qq, color, what) {
      var y = series(DOW.map(function (d) {
        var w = {period_start: qq, day_of_week: d};
        if (table === "traffic_dow") w.segment = "advocacy";   // clicks are advocacy's alone
        return sum(table, col, w);
      }));
      return {type: "bar", name: what + ", " + quarterLabel(qq), x: DOW, y: y.values, meta: {facts: y.facts}, marker: {color: color}};
    }
    var traces = [bars("traffic_dow", "sessions", q, "#3b6fd8", "sessions"), bars("traffic_dow", "sessions", p, "#9aa3b2", "sessions"),
      bars("clicks_dow", "clicks", q, "#e59a2f", "clicks"), bars("clicks_dow", "clicks", p, "#f3cf9c", "clicks")];
    traces[2].yaxis = traces[3].yaxis = "y2";
    traces[2].xaxis = traces[3].xaxis = "x2";
    var cur = traces[0].y, best = cur.indexOf(Math.max.apply(null, cur));
    var clicks = traces[2].y, bestClick = clicks.indexOf(Math.max.apply(null, clicks));
    var total = evaluate(sum("traffic_dow", "sessions", {period_start: q, segment: "advocacy"}));
    var read = total ? "Advocacy sessions peak on " + DOW[best] + " (" +
      fact(sum("traffic_dow", "sessions", {period_start: q, segment: "advocacy", day_of_week: DOW[best]}), "int") + " of " +
      fact(sum("traffic_dow", "sessions", {period_start: q, segment: "advocacy"}), "int") + " this quarter; " +
      fact(sum("traffic_dow", "sessions", {period_start: p, segment: "advocacy"}), "int") + " in the previous quarter)" +
      (evaluate(sum("clicks_dow", "clicks", {period_start: q})) ? "; posts shared on " + DOW[bestClick] + " drew the most clicks (" +
        fact(sum("clicks_dow", "clicks", {period_start: q, day_of_week: DOW[bestClick]}), "int") + ")." : ".")
      : "No advocacy sessions this quarter: not enough data.";
    set("weekday", reading(read) + '<p class="note">Sessions: ' + st("GA4") + " sessions from advocacy links, by session date. Clicks: the platform export's clicks of each post, by the day the post was shared (the exports count clicks per post, not per day).</p>");
    plot("chart-weekday", traces, {barmode: "group", title: {text: "Advocacy sessions (left) and clicks (right) by day of week"},
      grid: {rows: 1, columns: 2, pattern: "independent"}, xaxis2: {anchor: "y2"}, yaxis2: {anchor: "x2"}});
  }

  function advocates(q) {
    var list = T.advocates.filter(function (r) { return r.period_start === q; }).slice(0, 10);
    var rows = list.map(function (r) {
      var w = {period_start: q, advocate_id: r.advocate_id};
      var top = T.posts.filter(function (p) { return p.period_start === q && p.advocate_id === r.advocate_id && p.post_id === r.top_post_id; })[0];
      return [fact(cell("advocates", "advocate_name", w), "text"), fact(cell("advocates", "clicks", w), "int"),
        fact(cell("advocates", "sessions", w), "int"), fact(cell("advocates", "leads_sourced", w), "int"),
        fact(cell("advocates", "pipeline_influenced", w), "money"),
        top ? fact(cell("posts", "post_id", {platform: top.platform, post_id: top.post_id}), "text") + " (" +
          fact(cell("posts", "network", {platform: top.platform, post_id: top.post_id}), "text") + ", " +
          fact(cell("posts", "category", {platform: top.platform, post_id: top.post_id}), "text") + ")" : "n/a"];
    });
    function posts(order) {
      return T.posts.filter(function (p) { return p.period_start === q && p[order + "_rank"] <= 10; })
        .sort(function (a, b) { return a[order + "_rank"] - b[order + "_rank"]; }).map(function (p) {
          var w = {platform: p.platform, post_id: p.post_id};
          return [fact(cell("posts", "post_id", w), "text"), fact(cell("posts", "advocate_name", w), "text"),
            fact(cell("posts", "network", w), "text"), fact(cell("posts", "category", w), "text"),
            fact(cell("posts", "clicks", w), "int"), fact(cell("posts", "engagements", w), "int")];
        });
    }
    var head = ["post", "advocate", "network", "category", "clicks", "engagements"];
    var read = list.length ? "The top advocate, " + fact(cell("advocates", "advocate_name", {period_start: q, advocate_id: list[0].advocate_id}), "text") +
      ", drew " + fact(cell("advocates", "clicks", {period_start: q, advocate_id: list[0].advocate_id}), "int") + " clicks and sourced " +
      fact(cell("advocates", "leads_sourced", {period_start: q, advocate_id: list[0].advocate_id}), "int") + " leads this quarter."
      : "No advocate activity this quarter: not enough data.";
    set("advocates", reading(read) + "<h3>Leaderboard (by clicks)</h3>" +
      table(["advocate", "clicks", "sessions", "leads", "pipeline influenced", "top post (network, category)"], rows) +
      '<div class="grid2"><div><h3>Most-clicked posts</h3>' + table(head, posts("click")) +
      "</div><div><h3>Most-engaging posts</h3>" + table(head, posts("engagement")) + "</div></div>");
  }

  function reps(q) {
    var list = T.reps.filter(function (r) { return r.period_start === q && r.attainment !== null; });
    var w = {period_start: q};
    var pv = evaluate(cell("correlation", "p_value", w)), r = evaluate(cell("correlation", "pearson_r", w));
    var n = fact(cell("correlation", "n_reps", w), "int");
    var read;
    if (r === null || pv === null) {
      read = "Across " + n + " reps with a quota: not enough data for a correlation" +
        (evaluate(cell("correlation", "stat_note", w)) ? " (" + fact(cell("correlation", "stat_note", w), "text") + ")" : "") + ".";
    } else {
      read = "Across " + n + " reps, quota attainment and own advocacy sessions correlate at r = " + fact(cell("correlation", "pearson_r", w), "r") +
        " (" + fact(cell("correlation", "p_value", w), "p") + "): " + (pv < ALPHA ? "significant" : "not significant") + ".";
    }
    set("reps", reading(read) + table(["n reps", "advocate reps", "Pearson r", "p-value", "Spearman rho", "mean attainment, advocates", "mean attainment, others"],
      [[fact(cell("correlation", "n_reps", w), "int"), fact(cell("correlation", "n_advocate_reps", w), "int"),
        fact(cell("correlation", "pearson_r", w), "r"), fact(cell("correlation", "p_value", w), "p"),
        fact(cell("correlation", "spearman_rho", w), "r"), fact(cell("correlation", "mean_attainment_advocates", w), "pct"),
        fact(cell("correlation", "mean_attainment_others", w), "pct")]]));
    var traces = [true, false].map(function (adv) {
      var pts = list.filter(function (r) { return !!r.is_advocate === adv; });
      var x = series(pts.map(function (p) { return cell("reps", "own_advocacy_sessions", {period_start: q, rep_id: p.rep_id}); }));
      var y = series(pts.map(function (p) { return cell("reps", "attainment", {period_start: q, rep_id: p.rep_id}); }));
      return {type: "scatter", mode: "markers", name: adv ? "reps who are advocates" : "other reps", x: x.values, y: y.values,
        text: pts.map(function (p) { return p.rep_name; }), meta: {facts: y.facts, xfacts: x.facts},
        marker: {size: 10, color: adv ? "#3b6fd8" : "#9aa3b2"}};
    });
    plot("chart-reps", traces, {title: {text: "Attainment vs own advocacy sessions"}, xaxis: {title: {text: "own advocacy sessions"}},
      yaxis: {title: {text: "quota attainment"}, tickformat: ".0%"}});
  }

  function value(q) {
    var nets = T.value.filter(function (r) { return r.period_start === q; });
    var rows = nets.map(function (r) {
      var w = {period_start: q, network: r.network};
      return [fact(cell("value", "network", w), "text"), fact(cell("value", "clicks", w), "int"), fact(cell("value", "cpc", w), "money2"),
        fact(cell("value", "paid_equivalent_value", w), "money"), fact(cell("value", "engagements", w), "int"),
        fact(cell("value", "eemv_per_engagement", w), "money2"), fact(cell("value", "earned_media_value", w), "money")];
    });
    var assumptions = T.value_assumptions.map(function (r) {
      var w = {network: r.network, valid_from: r.valid_from};
      return {cells: [fact(cell("value_assumptions", "network", w), "text"), fact(cell("value_assumptions", "cpc", w), "num2") + " " +
        fact(cell("value_assumptions", "currency", w), "text"), fact(cell("value_assumptions", "eemv_per_engagement", w), "num2"),
        fact(cell("value_assumptions", "valid_from", w), "text"), r.valid_to ? fact(cell("value_assumptions", "valid_to", w), "text") : "still in force",
        '<span class="t">' + fact(cell("value_assumptions", "source_note", w), "text") + "</span>"]};
    });
    var read = nets.length ? "Advocacy clicks would have cost " + fact(sum("value", "paid_equivalent_value", {period_start: q}), "money") +
      " as paid ads, and engagements are worth " + fact(sum("value", "earned_media_value", {period_start: q}), "money") +
      " in earned media (estimates from the assumptions below, not measured revenue)." : "No advocacy posts this quarter: not enough data.";
    set("value", reading(read) + table(["network", "clicks", "CPC", "paid-equivalent value", "engagements", "value per engagement", "earned media value"], rows) +
      "<h3>Assumptions</h3>" + table(["network", "CPC", "value per engagement", "in force from", "until", "source"], assumptions));
  }

  // The lift section (docs/LIFT.md): not per quarter - a programme has its own period, and the
  // adjusted comparison covers every matured lead.
  var METRIC_NAMES = {sessions: "sessions", leads: "leads", sqls: "SQLs", pipeline: "sourced pipeline"};
  function lift() {
    if (!T.lift.length && !T.adjusted.length) { set("lift", reading("No lift marts in this warehouse: not enough data.")); return; }
    var html = "";
    var programmes = {};
    T.lift.forEach(function (r) { programmes[r.programme] = true; });
    Object.keys(programmes).sort().forEach(function (p) {
      var rows = [], words = [];
      ["sessions", "leads", "sqls", "pipeline"].forEach(function (m) {
        var wp = {programme: p, metric: m, comparison: "programme"}, wq = {programme: p, metric: m, comparison: "placebo"};
        var pr = T.lift.filter(function (r) { return match(r, wp); })[0], pl = T.lift.filter(function (r) { return match(r, wq); })[0];
        if (!pr) return;
        rows.push([esc(METRIC_NAMES[m]), fact(cell("lift", "advocacy_share_pre", wp), "pct") + " \u2192 " + fact(cell("lift", "advocacy_share_post", wp), "pct"),
          fact(cell("lift", "lift", wp), "chg"), fact(cell("lift", "ci_low", wp), "chg") + " to " + fact(cell("lift", "ci_high", wp), "chg"),
          fact(cell("lift", "reading", wp), "text"),
          pl ? fact(cell("lift", "lift", wq), "chg") + " (" + fact(cell("lift", "ci_low", wq), "chg") + " to " + fact(cell("lift", "ci_high", wq), "chg") + ")" : "no placebo",
          pl ? fact(cell("lift", "reading", wq), "text") : ""]);
        var verdict;
        if (pr.reading === "increase" && (!pl || pl.reading === "no clear change")) verdict = "a measured lift";
        else if (pr.reading === "increase") verdict = "a rise, but the placebo period moved too, so it may be a trend rather than the programme";
        else if (pr.reading === "decrease") verdict = "a fall relative to the other channels";
        else if (pr.reading === "too few weeks") verdict = "too few weeks to tell";
        else verdict = "no measurable change";
        words.push("advocacy " + esc(METRIC_NAMES[m]) + " " + fact(cell("lift", "lift", wp), "chg") + " relative to other channels: " + verdict);
      });
      var w0 = {programme: p, metric: "sessions", comparison: "programme"};
      html += "<h3>" + fact(cell("lift", "programme", w0), "text") + "</h3>" + reading("During " + fact(cell("lift", "period_start_date", w0), "text") + " to " +
        fact(cell("lift", "period_end_date", w0), "text") + ", against the weeks from " + fact(cell("lift", "pre_start_date", w0), "text") +
        ": " + words.join("; ") + ".") +
        table(["metric", "advocacy share before \u2192 during", "lift vs other channels", st("95 %") + " interval", "reading", "placebo lift (interval)", "placebo reading"], rows);
    });
    var stages = {mql: "MQL", sql: "SQL", opportunity: "opportunity"};
    var arows = [], sentence = "";
    Object.keys(stages).forEach(function (sg) {
      var wn = {stage: sg, row_type: "naive"}, wa = {stage: sg, row_type: "adjusted"};
      if (!T.adjusted.filter(function (r) { return match(r, wa); }).length) return;
      arows.push([esc("lead \u2192 " + stages[sg]), fact(cell("adjusted", "advocacy_rate", wn), "pct"), fact(cell("adjusted", "other_rate", wn), "pct"),
        fact(cell("adjusted", "difference", wn), "pp") + " (" + fact(cell("adjusted", "ci_low", wn), "pp") + " to " + fact(cell("adjusted", "ci_high", wn), "pp") + ")",
        fact(cell("adjusted", "other_rate", wa), "pct"),
        fact(cell("adjusted", "difference", wa), "pp") + " (" + fact(cell("adjusted", "ci_low", wa), "pp") + " to " + fact(cell("adjusted", "ci_high", wa), "pp") + ")"]);
      if (sg === "sql") {
        var a = T.adjusted.filter(function (r) { return match(r, wa); })[0];
        var judged = a.ci_low === null ? "not enough data to say" : a.ci_low > 0 ? "advocacy itself lifts the SQL rate" :
          a.ci_high < 0 ? "advocacy leads qualify less often than comparable leads" : "no lift that survives the adjustment";
        sentence = "Compared with other leads from comparable companies (" + fact(cell("adjusted", "strata", wa), "text") + "), advocacy leads reach SQL " +
          fact(cell("adjusted", "difference", wa), "pp") + " more often (" + st("95 %") + " interval " + fact(cell("adjusted", "ci_low", wa), "pp") + " to " +
          fact(cell("adjusted", "ci_high", wa), "pp") + "); the raw comparison says " + fact(cell("adjusted", "difference", wn), "pp") +
          ", the rest comes from which companies advocacy reaches. Verdict: " + judged + ".";
      }
    });
    if (arows.length) {
      html += "<h3>Advocacy leads vs comparable other leads</h3>" + reading(sentence) +
        table(["stage", "advocacy rate", "other rate (raw)", "raw difference (interval)", "other rate, adjusted to advocacy's companies", "adjusted difference (interval)"], arows);
    }
    set("lift", html);
  }

  function quality() {
    var rows = T.data_quality.map(function (r) {
      var w = {check: r.check, source: r.source, detail: r.detail};
      return {cls: r.status === "warn" || r.status === "fail" ? "warn" : "", cells: [fact(cell("data_quality", "check", w), "text"), fact(cell("data_quality", "source", w), "text"),
        fact(cell("data_quality", "value", w), r.check.indexOf("rate") >= 0 || r.check.indexOf("loss") >= 0 || r.check.indexOf("without") >= 0 ? "pct" : "num2"),
        fact(cell("data_quality", "threshold", w), r.check.indexOf("rate") >= 0 || r.check.indexOf("loss") >= 0 || r.check.indexOf("without") >= 0 ? "pct" : "num2"),
        esc(r.status), '<span class="t">' + fact(cell("data_quality", "detail", w), "text") + "</span>"]};
    });
    var warn = T.data_quality.filter(function (r) { return r.status === "warn"; }).length;
    var failed = T.data_quality.filter(function (r) { return r.status === "fail"; }).length;
    var match = T.data_quality.filter(function (r) { return r.check === "identity_match_rate"; })[0];
    var read = (failed ? fact({op: "count", t: "data_quality", w: {status: "fail"}}, "int") + " source(s) missing from this build (in red). " : "") +
      (warn ? fact({op: "count", t: "data_quality", w: {status: "warn"}}, "int") + " check(s) need attention (in red)." : failed ? "" : "Every check passes.") +
      (match ? " Identity match rate: " + fact(cell("data_quality", "value", {check: match.check, source: match.source, detail: match.detail}), "pct") + "." : "");
    set("quality", reading(read) +
      table(["check", "source", "value", "threshold", "status", "detail"], rows));
  }

  function render() {
    var q = qp.value, m = mp.value;
    banner();
    headline(q, m);
    funnel(q);
    lift();
    pipeline(q, m);
    dataDriven();
    weekday(q);
    advocates(q);
    reps(q);
    value(q);
    quality();
    document.body.setAttribute("data-rendered", q + "|" + m);
  }
  qp.addEventListener("change", render);
  mp.addEventListener("change", render);
  window.advocacyReport = {evaluate: evaluate, render: render, quarters: QUARTERS, segments: SEGMENTS};
  render();
})();
