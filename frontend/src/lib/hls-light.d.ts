// hls.js publishes its light build at "hls.js/light" without a declaration
// file of its own; its API is the full build's, minus features we do not use.
declare module 'hls.js/light' {
  export * from 'hls.js';
  export { default } from 'hls.js';
}
