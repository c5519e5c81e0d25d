import { escapeHtml, Html, html, query } from './html';

describe('console html tag', () => {
  it('escapes every interpolated value, in text and in attributes', () => {
    const subject = `<script>alert("x")</script> & 'quoted' \`tick\``;
    const out = html`<td title="${subject}">${subject}</td>`.value;
    expect(out).toBe(
      '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; &#96;tick&#96;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39; &#96;tick&#96;</td>',
    );
  });

  it('inserts fragments made by the tag as they are, and lists joined; nothing for null, undefined and false', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${[html`<br>`, 'a<b']}${null}${undefined}${false}${0}</p>`.value).toBe('<p><b>&lt;i&gt;</b><br>a&lt;b0</p>');
    expect(new Html('<hr>').toString()).toBe('<hr>');
  });

  it('builds query strings from the filters set, encoded', () => {
    expect(query({ state: 'stuck', party: '', after: 'a&b=c' })).toBe('?state=stuck&after=a%26b%3Dc');
    expect(query({})).toBe('');
    expect(escapeHtml('"')).toBe('&quot;');
  });
});
