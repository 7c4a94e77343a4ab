// Reads an iCalendar feed on stdin and prints what ical.js understood of it as JSON.
import ICAL from "ical.js";

let text = "";
for await (const chunk of process.stdin) text += chunk;
const calendar = new ICAL.Component(ICAL.parse(text));
const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    location: event.location,
    sequence: event.sequence,
    status: component.getFirstPropertyValue("status"),
    start: event.startDate.toJSDate().toISOString(),
    end: event.endDate.toJSDate().toISOString(),
    lastModified: component.getFirstPropertyValue("last-modified").toJSDate().toISOString(),
    dtstamp: component.getFirstPropertyValue("dtstamp").toJSDate().toISOString(),
  };
});
process.stdout.write(JSON.stringify({
  method: calendar.getFirstPropertyValue("method"),
  refreshInterval: String(calendar.getFirstPropertyValue("refresh-interval")),
  publishedTtl: String(calendar.getFirstPropertyValue("x-published-ttl")),
  events,
}));
