// Kessai hosted payment page: inline validation of the card form and double-submit protection.
// Served as a file so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  'use strict';

  // Full-width digits, spaces and hyphens (what a Japanese IME types) become ASCII ones; nothing
  // typed is dropped.
  function half(s) {
    return String(s || '').replace(/[\uFF10-\uFF19]/g, function (c) {
      return String.fromCharCode(c.charCodeAt(0) - 0xFEE0);
    }).replace(/[\u3000]/g, ' ').replace(/[\uFF0D\u2010-\u2015\u2212\u30FC]/g, '-');
  }
  function digits(s) { return half(s).replace(/[\s-]/g, ''); }

  // convert a field's full-width characters in place, keeping the caret; not while an IME is
  // still composing (that would break the composition): on compositionend instead
  function halfWidthField(el, after) {
    function fix() {
      var v = half(el.value);
      if (v !== el.value) {
        var pos = el.selectionStart;
        el.value = v;
        try { el.setSelectionRange(pos, pos); } catch (e) { /* type=password in old browsers */ }
      }
      if (after) { after(); }
    }
    el.addEventListener('input', function (ev) { if (!ev.isComposing) { fix(); } });
    el.addEventListener('compositionend', fix);
  }

  // brand from the number's leading digits: the ranges of vault.Brand
  function brandOf(d) {
    if (/^4/.test(d)) { return 'visa'; }
    var p2 = +d.slice(0, 2), p3 = +d.slice(0, 3), p4 = +d.slice(0, 4);
    if (d.length >= 2 && p2 >= 51 && p2 <= 55) { return 'master'; }
    if (d.length >= 4 && p4 >= 2221 && p4 <= 2720) { return 'master'; }
    if (d.length >= 4 && p4 >= 3528 && p4 <= 3589) { return 'jcb'; }
    if (d.length >= 2 && (p2 === 34 || p2 === 37)) { return 'amex'; }
    if ((d.length >= 3 && p3 >= 300 && p3 <= 305) || (d.length >= 4 && p4 === 3095) ||
        (d.length >= 2 && (p2 === 36 || p2 === 38 || p2 === 39))) { return 'diners'; }
    return '';
  }

  function store() { try { return window.sessionStorage; } catch (e) { return null; } }

  function luhn(d) {
    var sum = 0, dbl = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (dbl) { n *= 2; if (n > 9) { n -= 9; } }
      sum += n; dbl = !dbl;
    }
    return sum % 10 === 0;
  }

  function setError(input, box, msg) {
    if (box) { box.textContent = msg || ''; }
    if (input) {
      if (msg) { input.setAttribute('aria-invalid', 'true'); } else { input.removeAttribute('aria-invalid'); }
    }
    return !msg;
  }

  var form = document.getElementById('cardform');
  if (form) {
    var ds = form.dataset;
    var cn = document.getElementById('cn');
    var month = document.getElementById('exp-month');
    var year = document.getElementById('exp-year');
    var holder = document.getElementById('holder');
    var cvv = document.getElementById('cvv');
    var button = document.getElementById('pay');
    var boxes = {
      cn: document.getElementById('err-cn'), ed: document.getElementById('err-ed'),
      holder: document.getElementById('err-holder'), cvv: document.getElementById('err-cvv')
    };
    // server-side messages stay until the field changes
    ['cn', 'holder', 'cvv'].forEach(function (k) {
      var el = { cn: cn, holder: holder, cvv: cvv }[k];
      if (el && boxes[k] && boxes[k].textContent) { el.setAttribute('aria-invalid', 'true'); }
    });

    var checks = {
      cn: function () {
        var d = digits(cn.value);
        if (d === '') { return setError(cn, boxes.cn, ds.msgCnRequired); }
        if (!/^\d{12,19}$/.test(d) || !luhn(d)) { return setError(cn, boxes.cn, ds.msgCn); }
        var b = brandOf(d);
        if (b && ds.accepted && (' ' + ds.accepted + ' ').indexOf(' ' + b + ' ') < 0) { return setError(cn, boxes.cn, ds.msgBrand); }
        if (b && (' ' + (ds.closed || '') + ' ').indexOf(' ' + b + ' ') >= 0) { return setError(cn, boxes.cn, ds['closed' + b.charAt(0).toUpperCase() + b.slice(1)] || ds.msgBrand); }
        return setError(cn, boxes.cn, '');
      },
      ed: function () {
        var m = month.value, y = year.value;
        var ok = /^\d{2}$/.test(m) && /^\d{2}$/.test(y) && (y + m) >= (ds.now || '0000');
        setError(month, null, ok ? '' : 'x');
        return setError(year, boxes.ed, ok ? '' : ds.msgExp);
      },
      holder: function () {
        var v = holder.value.trim();
        return setError(holder, boxes.holder, /^[A-Za-z][A-Za-z .'\-]{0,49}$/.test(v) ? '' : ds.msgHolder);
      },
      cvv: function () {
        if (!cvv) { return true; }
        return setError(cvv, boxes.cvv, /^\d{3,4}$/.test(half(cvv.value)) ? '' : ds.msgCvv);
      }
    };

    // the brand's logo lights up as the number is typed
    var badges = document.querySelectorAll('#brands .brand');
    function showBrand() {
      var b = brandOf(digits(cn.value));
      form.setAttribute('data-brand', b);
      Array.prototype.forEach.call(badges, function (el) {
        el.classList.toggle('brand-on', b !== '' && el.getAttribute('data-brand') === b);
        el.classList.toggle('brand-dim', b !== '' && el.getAttribute('data-brand') !== b);
      });
      var closed = b && (' ' + (ds.closed || '') + ' ').indexOf(' ' + b + ' ') >= 0;
      if (closed || (b && ds.accepted && (' ' + ds.accepted + ' ').indexOf(' ' + b + ' ') < 0)) { checks.cn(); }
    }

    // group the number in fours while typing, the way it is printed on the card; full-width
    // digits become ASCII ones, and a character that is not a digit is kept (the check says so)
    function formatNumber() {
      var v = half(cn.value);
      if (/^[\d\s-]*$/.test(v)) {
        var atEnd = cn.selectionStart === cn.value.length;
        var grouped = v.replace(/[\s-]/g, '').slice(0, 19).replace(/(\d{4})(?=\d)/g, '$1 ');
        if (atEnd && grouped !== cn.value) { cn.value = grouped; } else if (v !== cn.value) { halfInPlace(cn, v); }
      } else if (v !== cn.value) {
        halfInPlace(cn, v);
      }
      showBrand();
      if (cn.getAttribute('aria-invalid')) { checks.cn(); }
    }
    function halfInPlace(el, v) {
      var pos = el.selectionStart;
      el.value = v;
      try { el.setSelectionRange(pos, pos); } catch (e) { /* ignore */ }
    }
    cn.addEventListener('input', function (ev) { if (!ev.isComposing) { formatNumber(); } });
    cn.addEventListener('compositionend', formatNumber);
    showBrand();

    // what was right survives a decline: the name and expiry are kept in this tab (never the
    // card number or the security code) and put back on the order's form
    var keepKey = 'kessai-keep-' + (form.elements.o ? form.elements.o.value : '');
    var ss = store();
    if (ss) {
      try {
        var kept = JSON.parse(ss.getItem(keepKey) || 'null');
        if (kept) {
          if (!holder.value && kept.h) { holder.value = kept.h; }
          if (!month.value && kept.m) { month.value = kept.m; }
          if (!year.value && kept.y) { year.value = kept.y; }
        }
      } catch (e) { /* nothing kept */ }
    }

    // a paid order shown again from the browser's history goes to its result
    window.addEventListener('pageshow', function () {
      if (!form.elements.o || !window.fetch) { return; }
      var lang = form.elements.lang ? form.elements.lang.value : '';
      fetch('/link/creditcard/state?o=' + encodeURIComponent(form.elements.o.value) + '&lang=' + encodeURIComponent(lang),
        { credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) { return r.json(); })
        .then(function (st) { if (st && st.paid && st.result) { window.location.replace(st.result); } })
        .catch(function () { /* the form stays */ });
    });

    cn.addEventListener('blur', function () { if (cn.value !== '') { checks.cn(); } });
    month.addEventListener('change', function () { if (year.value) { checks.ed(); } });
    year.addEventListener('change', function () { if (month.value) { checks.ed(); } });
    holder.addEventListener('input', function () { holder.value = holder.value.toUpperCase(); if (holder.getAttribute('aria-invalid')) { checks.holder(); } });
    holder.addEventListener('blur', function () { if (holder.value !== '') { checks.holder(); } });
    if (cvv) {
      halfWidthField(cvv, function () { if (cvv.getAttribute('aria-invalid')) { checks.cvv(); } });
      cvv.addEventListener('blur', function () { if (cvv.value !== '') { checks.cvv(); } });
    }

    var sent = false;
    form.addEventListener('submit', function (ev) {
      if (sent) { ev.preventDefault(); return; }
      var first = null;
      [['cn', cn], ['ed', month], ['holder', holder], ['cvv', cvv]].forEach(function (c) {
        if (!checks[c[0]]() && !first) { first = c[1]; }
      });
      if (first) { ev.preventDefault(); first.focus(); return; }
      cn.value = digits(cn.value);
      if (cvv) { cvv.value = half(cvv.value); }
      if (ss) {
        try { ss.setItem(keepKey, JSON.stringify({ h: holder.value, m: month.value, y: year.value })); } catch (e) { /* full */ }
      }
      sent = true;
      button.disabled = true;
      if (button.dataset.busy) { button.textContent = button.dataset.busy; }
    });
  }

  // 3-D Secure page: one submission only
  var tds = document.getElementById('tdsform');
  if (tds) {
    var done = false;
    tds.addEventListener('submit', function (ev) {
      if (done) { ev.preventDefault(); return; }
      done = true;
      setTimeout(function () {
        Array.prototype.forEach.call(tds.querySelectorAll('button'), function (b) { b.disabled = true; });
      }, 0);
    });
    var otp = document.getElementById('otp');
    if (otp) { halfWidthField(otp); otp.focus(); }
  }

  // any other numeric field marked for it (a phone number) takes full-width digits too
  Array.prototype.forEach.call(document.querySelectorAll('input[data-halfwidth], input[type=tel]'), function (el) {
    halfWidthField(el);
  });

  // the processor's own 3-D Secure: go there at once (the link stays for a browser without script)
  var go = document.getElementById('processor-go');
  if (go && go.dataset.auto) { window.location.replace(go.href); }

  // the result page: the order is done, nothing is kept any more
  if (document.getElementById('result-title')) {
    var s2 = store();
    if (s2) {
      for (var i = s2.length - 1; i >= 0; i--) {
        var k = s2.key(i);
        if (k && k.indexOf('kessai-keep-') === 0) { s2.removeItem(k); }
      }
    }
  }

  // error and maintenance pages: the language switch shows the other language's part (#alt-xx)
  // without adding a history entry, so the browser's back still leads to the page before
  Array.prototype.forEach.call(document.querySelectorAll('a.lang[href^="#"]'), function (a) {
    a.addEventListener('click', function (ev) {
      ev.preventDefault();
      window.location.replace(a.getAttribute('href') === '#' ? '#top' : a.getAttribute('href'));
    });
  });

  // error and maintenance pages: the browser's back, when there is somewhere to go back to
  Array.prototype.forEach.call(document.querySelectorAll('.back-history'), function (b) {
    if (window.history.length > 1) {
      b.hidden = false;
      b.addEventListener('click', function () { window.history.back(); });
    }
  });
})();
