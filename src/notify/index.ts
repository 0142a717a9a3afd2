export { noNotifications, notificationSink, notificationsFor, type NotificationSink } from "./dispatch.ts";
export {
  environmentEvent,
  runFinishedEvent,
  runStartedEvent,
  tokenExpiringEvent,
  type EventSource,
  type ExpiringToken,
} from "./events.ts";
export { ExpiryNotices, NOTICES_FILE } from "./expiring.ts";
