// The feed's state as people read it: one of live / silent N min / stalled / failing / paused /
// database not writing / offline, as a symbol *and* words (never a colour alone), with the
// detail OVH or the store gave. The header's indicator and the wall screen both show it.

import { t } from './i18n.js';

const SYMBOLS = { connected: '●', silent: '◐', stalled: '◌', failing: '✕', paused: '⏸', 'store-failing': '⚠', offline: '✕', starting: '○' };

/// `{state, symbol, text, detail}` for the live state `live` (see live.js).
export function feedState(live) {
  const hl = live.health;
  let state = hl ? hl.state : 'unknown';
  if (live.stream === 'offline') state = 'offline';
  // The store not writing outranks the feed: nothing new can show until it writes again.
  else if (hl && hl.store && hl.store.state === 'failing') state = 'store-failing';
  let text;
  if (state === 'connected') text = t('health.live');
  else if (state === 'store-failing') text = t('health.store_failing');
  else if (state === 'stalled') text = t('health.stalled');
  else if (state === 'silent') text = t('health.silent', { n: Math.max(1, Math.floor((hl.silent_for_s || 0) / 60)) });
  else if (state === 'failing') text = t('health.failing');
  else if (state === 'paused') text = t('health.paused');
  else if (state === 'starting') text = t('health.starting');
  else if (state === 'offline') text = t('health.offline');
  else text = t('health.unknown');
  let detail = '';
  if (state === 'failing' && hl.last_error) detail = hl.last_error;
  else if (state === 'paused' && hl.paused_reason) detail = hl.paused_reason;
  else if (state === 'store-failing' && hl.store.last_error) detail = hl.store.last_error;
  return { state, symbol: SYMBOLS[state] || '?', text, detail };
}
