// The two functions of msgpack-lite (CommonJS, untyped) the queue and the retained lookup use:
// the encoding aedes-persistence-level stores its packets in.
declare module 'msgpack-lite' {
  const msgpack: { decode (buffer: Buffer): unknown, encode (value: unknown): Buffer }
  export default msgpack
}
