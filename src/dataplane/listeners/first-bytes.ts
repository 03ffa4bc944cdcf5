// A new connection's first bytes decide who serves it: a TLS record (mesh mTLS, captured TLS), the
// HTTP/2 preface, or HTTP/1. They are taken off the socket with one 'data' event, so the common
// case, an HTTP/1 request, reaches its codec in the same turn as the read (no paused-mode read, no
// unshift, no extra tick); the other readers get them back first.
import type { Socket } from 'node:net';

/**
 * Calls `cb` with the connection's first bytes, taken off the socket (null: it closed before
 * sending any). The callback owns them: it parses them itself, or gives them back (giveBack)
 * before another reader takes the socket. Either way it must do so before it returns: the socket
 * is flowing, and bytes that arrive while no one listens would be lost.
 */
export function takeFirst(socket: Socket, cb: (first: Buffer | null) => void): void {
  const onData = (b: Buffer): void => {
    cleanup();
    cb(b);
  };
  const onEnd = (): void => {
    cleanup();
    cb(null);
  };
  const cleanup = (): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
}

/**
 * Puts bytes takeFirst took back at the head of the socket's stream and stops the flow: the next
 * reader's first 'data' listener (or read(), as TLS does) gets them, then what follows.
 */
export function giveBack(socket: Socket, first: Buffer): void {
  socket.pause();
  socket.unshift(first);
  // Neither flowing nor paused: a 'data' listener starts the flow again (a paused stream would wait for resume()).
  (socket as unknown as { readableFlowing: boolean | null }).readableFlowing = null;
}
