// Pantau dashboard: new matches appear at the top of "Latest matches" as they are stored.
// Plain EventSource, no libraries. Text goes in through textContent only (no HTML injection);
// only http(s) links are clickable. On a "close" event (slow consumer, shutdown) EventSource
// reconnects by itself and resumes after the last event it saw (Last-Event-ID).
(function (cfg) {
  "use strict";
  var section = document.getElementById(cfg.target);
  if (!section || typeof EventSource === "undefined") {
    return;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) {
      node.className = cls;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function when(iso) {
    var date = new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toLocaleString();
  }

  function heading(data) {
    var h3 = el("h3");
    var title = data.title || data.url || "(untitled)";
    if (/^https?:\/\//i.test(data.url || "")) {
      var link = el("a", "", title);
      link.href = data.url;
      link.rel = "noopener noreferrer";
      h3.appendChild(link);
    } else {
      h3.textContent = title;
    }
    return h3;
  }

  function tags(data) {
    var box = el("div", "tags");
    (data.topics || []).forEach(function (t) {
      box.appendChild(el("span", t.substantive ? "tag sub" : "tag", t.name));
      box.appendChild(document.createTextNode(" "));
    });
    (data.actors || []).forEach(function (a) {
      box.appendChild(el("span", "tag actor", a.name));
      box.appendChild(document.createTextNode(" "));
    });
    return box;
  }

  function snippets(data) {
    var list = el("ul", "snippets");
    var seen = {};
    (data.actors || []).concat(data.topics || []).forEach(function (m) {
      (m.snippets || []).forEach(function (s) {
        if (!seen[s] && Object.keys(seen).length < 3) {
          seen[s] = true;
          list.appendChild(el("li", "", s));
        }
      });
    });
    return list;
  }

  function render(data) {
    var item = el("article", "match live");
    item.appendChild(heading(data));
    item.appendChild(el("div", "meta", (data.source || "") + " · seen " + when(data.seen_at)));
    item.appendChild(tags(data));
    item.appendChild(snippets(data));
    return item;
  }

  var stream = new EventSource(cfg.url);
  stream.addEventListener("match", function (message) {
    var event = JSON.parse(message.data);
    var empty = section.querySelector(".empty");
    if (empty) {
      empty.parentNode.removeChild(empty);
    }
    var title = section.querySelector("h2");
    section.insertBefore(render(event.data), title ? title.nextSibling : section.firstChild);
    var items = section.querySelectorAll("article.match");
    for (var i = cfg.max; i < items.length; i++) {
      items[i].parentNode.removeChild(items[i]);
    }
  });
})(__PANTAU_LIVE_CONFIG__);
