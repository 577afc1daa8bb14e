/*
 * CPToken.js — Kessai's card token script, compatible with the ROBOT PAYMENT browser API.
 *
 *   CPToken.TokenCreate({aid, cn, ed, fn, ln, cvv, md}, callback)
 *     Sends the card to Kessai (never to the merchant's server) and, on success, puts the token in
 *     <input id="tkn"> of <form id="mainform"> and calls callback("Success", ""); otherwise
 *     callback(code, message) with the ER code (ER999 during maintenance).
 *
 *   CPToken.CardInfo({aid, md}, callback)
 *     Renders a card form inside <div id="CARD_INPUT_FORM">; when the shopper confirms it, a token is
 *     made as above and callback(code, message) is called.
 *
 * The token is valid for 10 minutes and can be used once, by the store it was made for.
 */
(function (global) {
  'use strict';
  var script = document.currentScript;
  var base = '';
  try { base = new URL(script.src, document.baseURI).origin; } catch (e) { base = ''; }

  function english() {
    return /^en/i.test(document.documentElement.lang || '');
  }

  function messageOf(j) {
    if (!j) { return ''; }
    return (english() ? j.title : j.title_ja) || j.title || '';
  }

  function post(path, data, done) {
    var body = new URLSearchParams();
    Object.keys(data).forEach(function (k) {
      var v = data[k];
      if (v !== undefined && v !== null && v !== '') { body.append(k, String(v)); }
    });
    fetch(base + path, { method: 'POST', body: body, mode: 'cors', credentials: 'omit', cache: 'no-store' })
      .then(function (res) {
        return res.json().then(function (j) { return { ok: res.ok, j: j }; },
          function () { return { ok: false, j: { code: res.status === 503 ? 'ER999' : 'ER000' } }; });
      })
      .then(function (r) { done(r.ok, r.j || {}); },
        function () { done(false, { code: 'ER000', title: 'Could not reach the payment service', title_ja: '決済サービスに接続できませんでした' }); });
  }

  function tokenField() {
    var form = document.getElementById('mainform');
    var t = form ? form.querySelector('#tkn') : null;
    if (!t) { t = document.getElementById('tkn'); }
    if (!t && form) {
      t = document.createElement('input');
      t.type = 'hidden'; t.id = 'tkn'; t.name = 'tkn';
      form.appendChild(t);
    }
    return t;
  }

  var lastCard = null;

  function TokenCreate(p, callback) {
    p = p || {};
    callback = typeof callback === 'function' ? callback : function () {};
    var data = { aid: p.aid, cn: p.cn, ed: p.ed, fn: p.fn, ln: p.ln, cvv: p.cvv, md: p.md };
    post('/gateway/token.json', data, function (ok, j) {
      if (ok && j.token) {
        var t = tokenField();
        if (t) { t.value = j.token; }
        lastCard = j.card || null;
        callback('Success', '');
      } else {
        callback(j.code || 'ER000', messageOf(j));
      }
    });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function field(box, id, label, attrs) {
    var wrap = el('div', { 'class': 'cptoken-field' });
    wrap.style.margin = '0 0 .6em';
    var l = el('label', { 'for': id }, label);
    l.style.display = 'block';
    var a = { id: id, type: 'text', spellcheck: 'false' };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    var i = el('input', a);
    wrap.appendChild(l); wrap.appendChild(i); box.appendChild(wrap);
    return i;
  }

  function CardInfo(p, callback) {
    p = p || {};
    callback = typeof callback === 'function' ? callback : function () {};
    var box = document.getElementById('CARD_INPUT_FORM');
    if (!box) { callback('ER001', 'CARD_INPUT_FORM not found'); return; }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var cn = field(box, 'cptoken-cn', 'カード番号 / Card number', { inputmode: 'numeric', autocomplete: 'cc-number', maxlength: '23' });
    var ed = field(box, 'cptoken-ed', '有効期限 (MM/YY) / Expiry', { inputmode: 'numeric', autocomplete: 'cc-exp', maxlength: '5', placeholder: 'MM/YY' });
    var name = field(box, 'cptoken-name', 'カード名義 / Name on card', { autocomplete: 'cc-name', maxlength: '50', placeholder: 'TARO YAMADA' });
    var cvv = field(box, 'cptoken-cvv', 'セキュリティコード / Security code', { type: 'password', inputmode: 'numeric', autocomplete: 'cc-csc', maxlength: '4' });
    var msg = el('p', { id: 'cptoken-message', role: 'alert' });
    msg.style.color = '#c62828';
    var btn = el('button', { type: 'button', id: 'cptoken-submit' }, 'このカードを使う / Use this card');
    box.appendChild(msg); box.appendChild(btn);
    // full-width digits (a Japanese IME) become ASCII ones as they are typed; nothing is dropped
    [cn, ed, cvv].forEach(function (f) {
      function fix() {
        var v = f.value.replace(/[\uFF10-\uFF19\uFF0F]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xFEE0); })
          .replace(/\u3000/g, ' ').replace(/[\uFF0D\u2212\u30FC]/g, '-');
        if (v !== f.value) { f.value = v; }
      }
      f.addEventListener('input', function (ev) { if (!ev.isComposing) { fix(); } });
      f.addEventListener('compositionend', fix);
    });
    btn.addEventListener('click', function () {
      var m = /^(\d{2})\s*\/?\s*(\d{2})$/.exec(ed.value.trim());
      btn.disabled = true;
      msg.textContent = '';
      TokenCreate({ aid: p.aid, md: p.md, cn: cn.value.replace(/[\s-]/g, ''), ed: m ? m[2] + m[1] : ed.value,
        fn: name.value.trim().toUpperCase(), cvv: cvv.value }, function (code, text) {
        btn.disabled = false;
        if (code === 'Success') {
          cn.value = ''; cvv.value = '';
          msg.style.color = '#1e8e3e';
          msg.textContent = lastCard ? lastCard.brand + ' ' + lastCard.masked : 'OK';
        } else {
          msg.style.color = '#c62828';
          msg.textContent = text + ' (' + code + ')';
        }
        callback(code, text);
      });
    });
  }

  global.CPToken = {
    TokenCreate: TokenCreate,
    CardInfo: CardInfo,
    // the masked card of the last token made on this page, for a confirmation screen
    LastCard: function () { return lastCard; }
  };
})(window);
