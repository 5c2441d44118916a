// The one function of msgpack-lite (CommonJS, untyped) the retained lookup uses: the encoding
// aedes-persistence-level stores its packets in.
declare module 'msgpack-lite' {
  const msgpack: { decode (buffer: Buffer): unknown }
  export default msgpack
}
