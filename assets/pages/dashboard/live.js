// `walletUpdated` over the page's WebSocket (graphql-transport-ws at
// /graphql, same origin): the wallet changes on screen when it changes in
// the server, without a reload. The token goes in `connection_init`; a
// dropped connection is opened again, waiting longer each time (at most 30 s).
import { WALLET_UPDATED } from './queries.js';

const PROTOCOL = 'graphql-transport-ws';
const REFUSED = 4403;

// Follows the wallet of `accountId` (null: the caller's own). `onWallet`
// gets each new wallet; `onState` gets 'connecting', 'live', 'reconnecting'
// or 'refused'. Returns the function that stops following.
export function followWallet(token, accountId, onWallet, onState) {
  let socket = null;
  let stopped = false;
  let failures = 0;
  let timer = null;

  function send(message) {
    socket.send(JSON.stringify(message));
  }

  function connect() {
    onState(failures === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, PROTOCOL);
    socket.onopen = () => send({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } });
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'connection_ack') {
        failures = 0;
        onState('live');
        send({ id: 'wallet', type: 'subscribe', payload: { query: WALLET_UPDATED, variables: { accountId } } });
      } else if (message.type === 'next' && message.payload?.data?.walletUpdated) {
        onWallet(message.payload.data.walletUpdated);
      } else if (message.type === 'ping') {
        send({ type: 'pong' });
      } else if (message.type === 'error') {
        onState('refused');
      }
    };
    socket.onclose = (event) => {
      if (stopped) return;
      if (event.code === REFUSED) {
        onState('refused');
        return;
      }
      failures += 1;
      onState('reconnecting');
      timer = setTimeout(connect, Math.min(30_000, 500 * 2 ** failures));
    };
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close(1000);
  };
}
