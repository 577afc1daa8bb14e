/*
 * EMV3DSAdapter.js — Kessai's 3-D Secure script.
 *
 *   ThreeDSAdapter.authenticate({aid, tkn, am, tx, sf | iid, em | pn}, callback)
 *
 * Runs 3-D Secure for a token made by CPToken.js and the amounts the merchant will charge. A
 * frictionless authentication calls callback("Success", "") at once; a challenge is shown inside
 * <div id="EMV3DS_INPUT_FORM"> and the callback follows the cardholder's answer; a refusal is
 * callback("ER901", message). The outcome is recorded on the token: the later charge with other
 * amounts is ER584, after a failure ER901. During maintenance the callback gets "ER999".
 */
(function (global) {
  'use strict';
  var script = document.currentScript;
  var base = '';
  try { base = new URL(script.src, document.baseURI).origin; } catch (e) { base = ''; }

  function english() { return /^en/i.test(document.documentElement.lang || ''); }
  function messageOf(j) { return j ? ((english() ? j.title : j.title_ja) || j.title || '') : ''; }

  function post(path, data, done) {
    var body = new URLSearchParams();
    Object.keys(data).forEach(function (k) {
      var v = data[k];
      if (v !== undefined && v !== null && v !== '') { body.append(k, String(v)); }
    });
    fetch(base + path, { method: 'POST', body: body, mode: 'cors', credentials: 'omit', cache: 'no-store' })
      .then(function (res) {
        return res.json().then(function (j) { return { ok: res.ok, j: j }; },
          function () { return { ok: false, j: { code: res.status === 503 ? 'ER999' : 'ER900' } }; });
      })
      .then(function (r) { done(r.ok, r.j || {}); },
        function () { done(false, { code: 'ER900', title: 'Could not reach the payment service', title_ja: '決済サービスに接続できませんでした' }); });
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function yen(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') + '円'; }

  function container() {
    var box = document.getElementById('EMV3DS_INPUT_FORM');
    if (!box) {
      box = el('div', { id: 'EMV3DS_INPUT_FORM' });
      document.body.appendChild(box);
    }
    return box;
  }

  function clear(box) { while (box.firstChild) { box.removeChild(box.firstChild); } }

  function challenge(req, ch, callback) {
    var box = container();
    clear(box);
    var panel = el('div', { 'class': 'emv3ds-challenge', role: 'dialog', 'aria-labelledby': 'emv3ds-title' });
    panel.style.border = '1px solid #b9c1ce';
    panel.style.borderRadius = '10px';
    panel.style.padding = '1em';
    panel.style.maxWidth = '26em';
    panel.style.background = '#fff';
    panel.appendChild(el('h3', { id: 'emv3ds-title' }, '本人認証（3Dセキュア） / 3-D Secure'));
    panel.appendChild(el('p', {}, (ch.store ? ch.store + ' — ' : '') + yen(ch.total)));
    panel.appendChild(el('p', { id: 'emv3ds-card' }, 'カード / Card: ' + (ch.brand || '') + ' ' + (ch.card || '')));
    if (ch.sandboxCode) {
      var sc = el('p', { 'class': 'emv3ds-sandbox' }, 'テスト環境の認証コード / Sandbox code: ');
      sc.appendChild(el('strong', { id: 'emv3ds-sandbox-code' }, ch.sandboxCode));
      sc.style.background = '#fff8db';
      sc.style.padding = '.4em .6em';
      panel.appendChild(sc);
    }
    var label = el('label', { 'for': 'emv3ds-otp' }, '認証コード / Code');
    label.style.display = 'block';
    var otp = el('input', { id: 'emv3ds-otp', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '8' });
    var msg = el('p', { id: 'emv3ds-message', role: 'alert' });
    msg.style.color = '#c62828';
    var ok = el('button', { type: 'button', id: 'emv3ds-authenticate' }, '認証する / Authenticate');
    var ng = el('button', { type: 'button', id: 'emv3ds-cancel' }, 'キャンセル / Fail');
    ng.style.marginLeft = '.5em';
    panel.appendChild(label); panel.appendChild(otp); panel.appendChild(msg);
    var row = el('div');
    row.style.marginTop = '.6em';
    row.appendChild(ok); row.appendChild(ng);
    panel.appendChild(row);
    box.appendChild(panel);
    otp.focus();

    function finish(action) {
      ok.disabled = true; ng.disabled = true;
      post('/gateway/3ds/complete.json', { aid: req.aid, tkn: req.tkn, otp: otp.value.trim(), action: action }, function (good, j) {
        clear(box);
        if (good) { callback('Success', ''); } else { callback(j.code || 'ER901', messageOf(j)); }
      });
    }
    ok.addEventListener('click', function () { finish('authenticate'); });
    ng.addEventListener('click', function () { finish('cancel'); });
  }

  function authenticate(req, callback) {
    req = req || {};
    callback = typeof callback === 'function' ? callback : function () {};
    var data = { aid: req.aid, tkn: req.tkn, am: req.am, tx: req.tx, sf: req.sf, iid: req.iid, em: req.em, pn: req.pn };
    post('/gateway/3ds/authenticate.json', data, function (good, j) {
      if (!good) { callback(j.code || 'ER900', messageOf(j)); return; }
      if (j.flow === 'challenge' && j.challenge) { challenge(req, j.challenge, callback); return; }
      callback('Success', '');
    });
  }

  global.ThreeDSAdapter = { authenticate: authenticate };
})(window);
