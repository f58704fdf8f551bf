// GraphiQL for the credits API, from the files the server embeds: queries
// and mutations over HTTP at /graphql, subscriptions over WebSocket
// (graphql-transport-ws) at the same path. The bearer token comes from
// `#token=...` in the address or from the headers editor, and is kept in
// this tab's sessionStorage only: never in a cookie, localStorage or a log.
(function () {
  'use strict';

  var TOKEN_KEY = 'credits.token';

  // Violations of the page's Content-Security-Policy, kept so that a person
  // (or the browser tests) can see what the policy refused.
  var cspViolations = [];
  document.addEventListener('securitypolicyviolation', function (event) {
    cspViolations.push(event.effectiveDirective + ' ' + (event.blockedURI || 'inline'));
  });

  function storedToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (error) {
      return '';
    }
  }

  function keepToken(token) {
    try {
      if (token) {
        sessionStorage.setItem(TOKEN_KEY, token);
      } else {
        sessionStorage.removeItem(TOKEN_KEY);
      }
    } catch (error) {
      // Storage refused (private mode): the token stays in the editor only.
    }
  }

  // `#token=...` is read once, then dropped from the address bar and the
  // history entry, so that it is not copied along with the address.
  function takeTokenFromAddress() {
    var token = new URLSearchParams(location.hash.slice(1)).get('token');
    if (token !== null) {
      history.replaceState(null, '', location.pathname + location.search);
    }
    return token;
  }

  // The token of an `Authorization: Bearer ...` header in the editor's JSON,
  // or null when the editor holds something else.
  function tokenOfHeaders(text) {
    try {
      var headers = JSON.parse(text);
      var match = /^Bearer\s*(.*)$/i.exec(headers.Authorization || headers.authorization || '');
      return match ? match[1].trim() : null;
    } catch (error) {
      return null;
    }
  }

  var fromAddress = takeTokenFromAddress();
  if (fromAddress !== null) {
    keepToken(fromAddress.trim());
  }
  var headers = JSON.stringify({ Authorization: 'Bearer ' + storedToken() }, null, 2);

  var endpoint = new URL('/graphql', location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  // GraphiQL's fetcher sends the headers editor's JSON with every HTTP
  // request and as the `connection_init` payload of each WebSocket.
  var fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      // GraphiQL's tabs and history (which keeps each query's headers,
      // token included) live as long as this browser tab, like the token.
      storage: sessionStorage,
      headers: headers,
      defaultHeaders: headers,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
      onEditHeaders: function (text) {
        var token = tokenOfHeaders(text);
        if (token !== null) {
          keepToken(token);
        }
      },
    }),
  );

  window.creditsGraphiQL = { cspViolations: cspViolations };
})();
