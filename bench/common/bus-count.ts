/**
 * What the bus's consumers did, read from the process's own metrics (prom-client's default registry, which GET
 * /metrics serves): handler calls (every outcome of `sigillum_event_handling_seconds`) and messages passed over
 * undecoded because no handler of their topic acts on their type (`sigillum_bus_messages_passed_over_total`).
 */
import { eventHandlingSeconds, messagesPassedOverTotal } from '@sigillum/bus';

export interface BusCounts {
  readonly handlerCalls: number;
  readonly passedOver: number;
}

export async function busCounts(): Promise<BusCounts> {
  const handled = await eventHandlingSeconds.get();
  const passed = await messagesPassedOverTotal.get();
  return {
    handlerCalls: handled.values.filter((value) => value.metricName === 'sigillum_event_handling_seconds_count').reduce((sum, value) => sum + value.value, 0),
    passedOver: passed.values.reduce((sum, value) => sum + value.value, 0),
  };
}

export async function busCountsSince(before: BusCounts): Promise<BusCounts> {
  const now = await busCounts();
  return { handlerCalls: now.handlerCalls - before.handlerCalls, passedOver: now.passedOver - before.passedOver };
}
