// The browser side of examples/livereload.rb: connects to the server that
// served this script, says hello in the LiveReload protocol (version 7) and
// reloads the page when the server reports a change. Stylesheets are
// refreshed in place when the server says liveCSS.
(function () {
  var script = document.currentScript;
  var origin = new URL(script.src);
  var scheme = origin.protocol === 'https:' ? 'wss:' : 'ws:';
  var url = scheme + '//' + origin.host + '/livereload';
  var retry = 1000;

  function refreshStylesheets(path) {
    var links = document.querySelectorAll('link[rel="stylesheet"]');
    var refreshed = false;
    links.forEach(function (link) {
      var href = new URL(link.href);
      if (path && !href.pathname.endsWith(path.split('/').pop())) return;
      href.searchParams.set('livereload', Date.now());
      link.href = href.toString();
      refreshed = true;
    });
    return refreshed;
  }

  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () {
      retry = 1000;
      socket.send(JSON.stringify({
        command: 'hello',
        protocols: ['http://livereload.com/protocols/official-7']
      }));
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.command === 'hello') {
        document.documentElement.setAttribute('data-livereload', 'connected');
      } else if (message.command === 'reload') {
        if (message.liveCSS && /\.css$/.test(message.path) && refreshStylesheets(message.path)) return;
        window.location.reload();
      }
    };
    socket.onclose = function () {
      document.documentElement.setAttribute('data-livereload', 'disconnected');
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  connect();
})();
