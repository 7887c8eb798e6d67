/**
 * Which changesets are `runAlways`: Liquibase re-runs them on every `update` of a database that
 * already has them, so a series resumed from a state after one runs it again first (as a by-hand
 * `liquibase update` on that database would), and `update-count` must count it.
 *
 * `update-sql` on an empty database does not tell, so the parsed changelogs are read: the
 * `--changeset author:id … runAlways:true` line of formatted SQL, the `<changeSet … runAlways="true">`
 * tag of XML, and a `changeSet` block with `runAlways: true` in YAML or JSON.
 *
 * @module
 */

/** `author:id` → whether it is runAlways, for one changelog's text (id/author as Liquibase reads them). */
export function runAlwaysChangesets(text: string): Set<string> {
  const found = new Set<string>();
  for (const match of text.matchAll(/^--\s*changeset\s+(\S+?):(\S+)(.*)$/gim)) {
    if (/\brunAlways:true\b/i.test(match[3] as string)) found.add(`${match[1]}:${match[2]}`);
  }
  for (const match of text.matchAll(/<(?:\w+:)?changeSet\b([^>]*)>/g)) {
    const attrs = match[1] as string;
    if (!/\brunAlways\s*=\s*["']true["']/i.test(attrs)) continue;
    const id = /\bid\s*=\s*"([^"]*)"|\bid\s*=\s*'([^']*)'/.exec(attrs);
    const author = /\bauthor\s*=\s*"([^"]*)"|\bauthor\s*=\s*'([^']*)'/.exec(attrs);
    if (id !== null && author !== null) found.add(`${author[1] ?? author[2]}:${id[1] ?? id[2]}`);
  }
  // YAML and JSON: each chunk after a `changeSet:` key up to the next one.
  const chunks = text.split(/["']?changeSet["']?\s*:/).slice(1);
  for (const chunk of chunks) {
    if (!/["']?runAlways["']?\s*:\s*["']?true\b/i.test(chunk)) continue;
    const value = (key: string) =>
      new RegExp(`["']?\\b${key}["']?\\s*:\\s*(?:"([^"]*)"|'([^']*)'|([^\\s,}]+))`).exec(chunk);
    const id = value("id");
    const author = value("author");
    if (id !== null && author !== null) {
      found.add(`${author[1] ?? author[2] ?? author[3]}:${id[1] ?? id[2] ?? id[3]}`);
    }
  }
  return found;
}
