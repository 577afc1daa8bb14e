// Kessai hosted payment page: inline validation of the card form and double-submit protection.
// Served as a file so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  'use strict';

  function digits(s) { return String(s || '').replace(/[\s-]/g, ''); }

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
        return setError(cvv, boxes.cvv, /^\d{3,4}$/.test(cvv.value) ? '' : ds.msgCvv);
      }
    };

    // group the number in fours while typing, the way it is printed on the card
    cn.addEventListener('input', function () {
      var atEnd = cn.selectionStart === cn.value.length;
      var d = digits(cn.value).replace(/\D/g, '').slice(0, 19);
      var grouped = d.replace(/(\d{4})(?=\d)/g, '$1 ');
      if (atEnd && grouped !== cn.value) { cn.value = grouped; }
      if (cn.getAttribute('aria-invalid')) { checks.cn(); }
    });
    cn.addEventListener('blur', function () { if (cn.value !== '') { checks.cn(); } });
    month.addEventListener('change', function () { if (year.value) { checks.ed(); } });
    year.addEventListener('change', function () { if (month.value) { checks.ed(); } });
    holder.addEventListener('input', function () { holder.value = holder.value.toUpperCase(); if (holder.getAttribute('aria-invalid')) { checks.holder(); } });
    holder.addEventListener('blur', function () { if (holder.value !== '') { checks.holder(); } });
    if (cvv) {
      cvv.addEventListener('input', function () { if (cvv.getAttribute('aria-invalid')) { checks.cvv(); } });
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
    if (otp) { otp.focus(); }
  }
})();
