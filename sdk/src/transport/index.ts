export { MemoryTransport, type MemoryTransportOptions } from './memory-transport.ts';
export { type NatsConnectOptions, NatsTransport, type NatsTransportOptions } from './nats-transport.ts';
export {
  type ConsumeOptions,
  type RequestHandler,
  type RequestOptions,
  type Subscription,
  type TaskConsumer,
  type TaskDelivery,
  type TaskQueue,
  type Transport,
  TransportError,
} from './transport.ts';
export { DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_MAX_PAYLOAD, DEFAULT_REQUEST_TIMEOUT_MS } from './transport-defaults.ts';
