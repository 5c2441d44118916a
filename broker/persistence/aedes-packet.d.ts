// aedes-packet (CommonJS, untyped): the packet object aedes and its persistences store.
declare module 'aedes-packet' {
  class Packet {
    constructor (original: object, broker?: object)
  }
  export default Packet
}
