import { formatLimit, LIMIT_MEANING } from './format';

/** The device's limits (requested at the adapter's maxima), with what each one bounds. */
export function LimitsTable({ limits }: { limits: Record<string, number> }) {
  return (
    <table className="limits" data-testid="limits">
      <tbody>
        {Object.entries(limits).map(([name, value]) => (
          <tr key={name} data-limit={name} data-value={value}>
            <th scope="row">
              <code>{name}</code>
              <span className="muted">{LIMIT_MEANING[name] ?? ''}</span>
            </th>
            <td title={value.toLocaleString('en-US')}>{formatLimit(name, value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
