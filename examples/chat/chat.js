// The chat page's script: one WebSocket to the server that served the page,
// the room's messages as a list, and a reconnect with backoff whenever the
// connection drops (the status at the top says which it is).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const status = $('status');
  const list = $('messages');
  const nameBox = $('name');
  const textBox = $('text');
  const fileBox = $('file');
  const MAX_BINARY = 1 << 20; // the server's limit (a larger frame closes the connection)
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;

  // What the page has received and sent, for the curious (and the tests):
  // {kind: 'text', from, text}, and {kind: 'binary', type: 'Blob', size,
  // bytes} where bytes is a Uint8Array once the Blob has been read.
  const chat = { url, state: 'connecting', connects: 0, received: [], sent: [] };
  window.chat = chat;

  let socket = null;
  let failures = 0; // attempts since a connection last stayed up
  let retry = null; // the timer of the next attempt

  function setStatus(state, text) {
    chat.state = state;
    status.dataset.state = state;
    status.textContent = text;
    for (const control of document.querySelectorAll('[data-needs-connection]')) {
      control.disabled = state !== 'connected';
    }
  }

  // 0.5 s after the first failure, then 1, 2, 4, 8, at most 15 s; the random
  // half keeps a room full of pages from all coming back at the same moment.
  function backoff(n) {
    const ceiling = Math.min(500 * 2 ** n, 15000);
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  function connect() {
    clearTimeout(retry);
    retry = null;
    setStatus('connecting', failures ? `reconnecting (attempt ${failures + 1})…` : 'connecting…');
    const ws = new WebSocket(url);
    let openedAt = null;
    socket = ws;
    ws.onopen = () => {
      openedAt = Date.now();
      chat.connects += 1;
      setStatus('connected', 'connected');
    };
    ws.onmessage = (event) => receive(event.data);
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      // A server that accepts and then drops every connection still gets the backoff.
      if (openedAt !== null && Date.now() - openedAt > 10000) failures = 0;
      const delay = backoff(failures);
      failures += 1;
      retry = setTimeout(connect, delay);
      const code = event.code === 1006 ? '' : ` (${event.code}${event.reason ? ` ${event.reason}` : ''})`;
      setStatus('disconnected', `disconnected${code}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    };
  }

  // Back online: try now rather than when the timer says.
  window.addEventListener('online', () => {
    if (retry !== null) connect();
  });

  function isOpen() {
    return socket !== null && socket.readyState === WebSocket.OPEN;
  }

  // Appends a line to the list (text as text, never as HTML) and returns it.
  function show(kind, from, text) {
    const item = document.createElement('li');
    item.className = kind;
    const who = document.createElement('span');
    who.className = 'from';
    who.textContent = from;
    const what = document.createElement('span');
    what.className = 'text';
    what.textContent = text;
    item.append(who, what);
    const following = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    if (following) list.scrollTop = list.scrollHeight;
    return item;
  }

  function notice(text) {
    return show('notice', 'this page', text);
  }

  function describeSize(n) {
    return n < 1024 ? `${n} bytes` : `${(n / 1024).toFixed(1)} KiB`;
  }

  const IMAGES = [
    ['image/png', [0x89, 0x50, 0x4e, 0x47]],
    ['image/jpeg', [0xff, 0xd8, 0xff]],
    ['image/gif', [0x47, 0x49, 0x46, 0x38]],
  ];

  function imageType(bytes) {
    const found = IMAGES.find(([, magic]) => magic.every((byte, i) => bytes[i] === byte));
    return found ? found[0] : null;
  }

  // A picture as a picture; anything else as its first bytes in hex.
  function preview(item, bytes) {
    const type = imageType(bytes);
    if (type) {
      const img = document.createElement('img');
      img.alt = `a picture (${type})`;
      img.onload = () => URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(new Blob([bytes], { type }));
      item.append(img);
    } else {
      const code = document.createElement('code');
      const hex = Array.from(bytes.subarray(0, 24), (b) => b.toString(16).padStart(2, '0')).join(' ');
      code.textContent = ` ${hex}${bytes.length > 24 ? ' …' : ''}`;
      item.append(code);
    }
  }

  function receive(data) {
    if (typeof data !== 'string') {
      receiveBinary(data);
      return;
    }
    let message = null;
    try {
      message = JSON.parse(data);
    } catch (_) {
      // shown below as unreadable
    }
    if (!message || typeof message.from !== 'string' || typeof message.text !== 'string') {
      notice(`an unreadable message: ${data.slice(0, 200)}`);
      return;
    }
    chat.received.push({ kind: 'text', from: message.from, text: message.text });
    show(message.from === 'server' ? 'notice' : 'text', message.from, message.text);
  }

  // A binary message arrives as a Blob (binaryType's default).
  function receiveBinary(data) {
    const type = data instanceof Blob ? 'Blob' : data instanceof ArrayBuffer ? 'ArrayBuffer' : typeof data;
    const entry = { kind: 'binary', type, size: data.size ?? data.byteLength, bytes: null };
    chat.received.push(entry);
    const item = show('binary', 'someone', `sent ${describeSize(entry.size)} (binary)`);
    const blob = data instanceof Blob ? data : new Blob([data]);
    blob.arrayBuffer().then((buffer) => {
      entry.bytes = new Uint8Array(buffer);
      preview(item, entry.bytes);
    });
  }

  $('compose').addEventListener('submit', (event) => {
    event.preventDefault();
    const text = textBox.value;
    if (!text.trim()) return;
    if (!isOpen()) {
      notice('not connected: the message was not sent');
      return;
    }
    const from = nameBox.value.trim() || 'anonymous';
    socket.send(JSON.stringify({ from, text }));
    chat.sent.push({ kind: 'text', from, text });
    sessionStorage.setItem('chat-name', nameBox.value);
    textBox.value = '';
    textBox.focus();
  });

  async function sendBinary(blob, label) {
    if (blob.size > MAX_BINARY) {
      notice(`${label} is ${describeSize(blob.size)}; the server takes at most ${describeSize(MAX_BINARY)}`);
      return;
    }
    const bytes = new Uint8Array(await blob.arrayBuffer());
    if (!isOpen()) {
      notice(`not connected: ${label} was not sent`);
      return;
    }
    socket.send(bytes);
    chat.sent.push({ kind: 'binary', size: bytes.length, bytes });
    preview(show('sent', 'you', `sent ${label}: ${describeSize(bytes.length)} (binary, to everyone else)`), bytes);
  }

  // A 64x64 PNG: a colour and the first letter of the name.
  function picture() {
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 64;
    const g = canvas.getContext('2d');
    g.fillStyle = `hsl(${Math.floor(Math.random() * 360)} 70% 45%)`;
    g.fillRect(0, 0, 64, 64);
    g.fillStyle = '#fff';
    g.font = 'bold 36px sans-serif';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.fillText(([...nameBox.value.trim()][0] || '?').toUpperCase(), 32, 34);
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  }

  $('send-picture').addEventListener('click', async () => {
    await sendBinary(await picture(), 'a picture');
  });

  $('send-file').addEventListener('click', async () => {
    const file = fileBox.files[0];
    if (!file) {
      notice('choose a file first');
      return;
    }
    await sendBinary(file, file.name);
  });

  nameBox.value = sessionStorage.getItem('chat-name') || '';
  connect();
})();
