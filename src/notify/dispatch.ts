/**
 * Fan-out of notifications: each event goes to every configured notifier without holding up the
 * run (each notifier delivers its events in order, one at a time, each bounded by its timeout). A
 * delivery that fails is one warning line and nothing more: notifications never change a
 * rotation's outcome. `flush` waits for what is still being delivered, so a command ends only once
 * its notifications have arrived or failed.
 */
import { createNotifier, type AdapterDeps, type NotifierSpec } from "../adapters/registry.ts";
import type { NotificationEvent, Notifier } from "../adapters/types.ts";
import { silentLogger, type Logger } from "../util/log.ts";
import { redact } from "../util/redact.ts";

/** Where a run sends its events. */
export interface NotificationSink {
  /**
   * Queue `event` for every notifier and return at once; the promise (which never rejects) says
   * how many notifiers accepted it, for a caller that remembers what was delivered.
   */
  emit(event: NotificationEvent): Promise<number>;
  /**
   * Wait until every event emitted so far was delivered or failed. Resolves to true when every
   * notifier accepted all of them. Never rejects.
   */
  flush(): Promise<boolean>;
}

/** A sink that drops everything: no notifiers configured. */
export const noNotifications: NotificationSink = {
  emit: () => Promise.resolve(0),
  flush: () => Promise.resolve(true),
};

/** A sink over `notifiers`; failures are warned about on `log`. */
export function notificationSink(
  notifiers: readonly Notifier[],
  log: Logger = silentLogger,
): NotificationSink {
  if (notifiers.length === 0) return noNotifications;
  const tails = notifiers.map(() => Promise.resolve());
  let allDelivered = true;
  return {
    async emit(event) {
      const deliveries = notifiers.map((notifier, i) => {
        const delivery = (tails[i] ?? Promise.resolve()).then(() =>
          notifier.send(event).then(
            () => true,
            (error: unknown) => {
              allDelivered = false;
              log.warn(
                `notification not delivered: ${event.event} to ${notifier.description}: ${redact(error instanceof Error ? error.message : String(error))}`,
              );
              return false;
            },
          ),
        );
        tails[i] = delivery.then(() => undefined);
        return delivery;
      });
      return (await Promise.all(deliveries)).filter(Boolean).length;
    },
    async flush() {
      await Promise.all(tails);
      const delivered = allDelivered;
      allDelivered = true;
      return delivered;
    },
  };
}

/**
 * The sink for a config's `notify` list. A notifier that cannot be made (its environment variable
 * is missing) is skipped with a warning; the others still run.
 */
export async function notificationsFor(
  specs: readonly NotifierSpec[],
  log: Logger = silentLogger,
  deps: AdapterDeps = {},
): Promise<NotificationSink> {
  const made: Notifier[] = [];
  for (const [i, spec] of specs.entries()) {
    try {
      made.push(await createNotifier(spec, deps));
    } catch (error) {
      log.warn(
        `notify[${i}] (${spec.type}) is skipped: ${redact(error instanceof Error ? error.message : String(error))}`,
      );
    }
  }
  return notificationSink(made, log);
}
