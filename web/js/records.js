// The ledger's records (cadenza-ledger `records.rs`) as the state stores them, rebuilt from the
// API's JSON. The explorer compares these bytes with the value a proof covers, so that "verified"
// holds for every field the page shows, not only for the key.

import { Writer, encodeLicence, fromDid, USES } from './encoding.js';

const w = () => new Writer();

/** `Account`: nonce u64 ‖ option(last faucet ms u64). */
export function accountRecord(a) {
  const out = w().u64(a.nonce, 'nonce');
  out.option(a.last_faucet_ms, (v) => out.u64(v, 'last faucet'));
  return out.finish();
}

/** `TxRecord`: height u64 ‖ index u32 ‖ fee paid u128 ‖ option(code string ‖ message string). */
export function txRecord(t) {
  const out = w().u64(t.height, 'height').u32(t.index, 'index').u128(t.fee_paid, 'fee paid');
  out.option(t.error, (e) => out.string(e.code).string(e.message));
  return out.finish();
}

/** `AssetInfo`: symbol ‖ decimals u8 ‖ option(issuer) ‖ kind ‖ minted u128 ‖ burned u128. */
export function assetRecord(a) {
  const out = w().string(a.symbol).u8(a.decimals, 'decimals');
  out.option(a.issuer, (did) => out.id(fromDid(did), 'issuer'));
  const kind = a.kind?.type;
  if (kind === 'genesis') out.u8(0);
  else if (kind === 'issued') out.u8(1);
  else if (kind === 'shares') out.u8(2).id(a.kind.track, 'track');
  else throw new Error(`unknown asset kind ${kind}`);
  return out.u128(a.minted, 'minted').u128(a.burned, 'burned').finish();
}

/** A licence from its JSON form (uses as names) to the encoder's form (uses as bits). */
export function licenceFromJson(l) {
  return {
    price: { asset: l.price.asset, amount: l.price.amount },
    uses: l.uses.reduce((bits, name) => {
      if (!(name in USES)) throw new Error(`unknown use ${name}`);
      return bits | USES[name];
    }, 0),
    territories: l.territories,
    valid_from_ms: l.valid_from_ms,
    valid_until_ms: l.valid_until_ms,
    url: l.url,
    min_play_ms: l.min_play_ms,
  };
}

/** `Track`: controller ‖ essence ‖ blob ‖ title ‖ artist ‖ option(isrc) ‖ licence ‖ shares asset ‖ revenue assets ‖ registered ms. */
export function trackRecord(t) {
  const out = w().id(fromDid(t.controller), 'controller').id(t.essence_id, 'essence id').id(t.blob_id, 'blob id');
  out.string(t.title).string(t.artist);
  out.option(t.isrc, (isrc) => out.string(isrc));
  out.bytes(encodeLicence(licenceFromJson(t.licence)));
  out.id(t.shares_asset, 'shares asset');
  out.list(t.revenue_assets, undefined, 'revenue assets', (a) => out.id(a, 'revenue asset'));
  return out.u64(t.registered_ms, 'registered').finish();
}

/** `Channel`: owner ‖ provider ‖ asset ‖ deposit u128 ‖ settled seq u64 ‖ settled u128 ‖ head ‖ expiry u64 ‖ option(closed u64). */
export function channelRecord(c) {
  const out = w().id(fromDid(c.owner), 'owner').id(fromDid(c.provider), 'provider').id(c.deposit.asset, 'asset')
    .u128(c.deposit.amount, 'deposit').u64(c.settled_seq, 'settled seq').u128(c.settled.amount, 'settled')
    .id(c.head, 'head').u64(c.expiry_ms, 'expiry');
  out.option(c.closed_ms, (v) => out.u64(v, 'closed'));
  return out.finish();
}
