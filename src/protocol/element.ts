/**
 * The element class the parser builds stanzas with. ltx's getNS() treats
 * `xmlns=''` as absent and returns the parent's namespace; XML Namespaces §6.2
 * says the element is then in no namespace, and so does the server's parser.
 * Here an `xmlns` attribute, even empty, ends the look-up: '' means none.
 * Elements privguard builds itself never carry `xmlns=''`, so plain ltx
 * Elements under or above these ones resolve the same way.
 */
import { Element } from '@xmpp/xml';

export class ParsedElement extends Element {
  override findNS(prefix?: string): string | undefined {
    if (!prefix) {
      const own: unknown = this.attrs.xmlns;
      if (typeof own === 'string') return own === '' ? undefined : own;
      return this.parent ? this.parent.findNS() : undefined;
    }
    return super.findNS(prefix);
  }
}
