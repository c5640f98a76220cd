//! Block execution: `(state, block) → (changes, per-transaction outcomes and events)`.
//!
//! A block runs in three steps. A stateless pre-pass hashes every transaction, verifies every
//! transaction and voucher signature in batches and hashes every receipt chain, in parallel.
//! Then transactions execute in order, each in its own overlay: authentication (chain, signature,
//! nonce, fee) first, then the fee and nonce are committed, then the action, whose writes are kept
//! only if it succeeds. Last, the block's net changes are checked for conservation of every asset
//! and returned sorted.

use cadenza_types::crypto::{KeyCache, SigItem, verify_many, verify_many_with};
use cadenza_types::{AccountId, Action, Amount, Encode, Hash, ReceiptChain, SignedTransaction};

use crate::bank;
use crate::catalog;
use crate::channels;
use crate::conservation;
use crate::ctx::{Ctx, Env};
use crate::error::{BlockError, TxError};
use crate::events::Event;
use crate::parallel::map_chunks;
use crate::params::{Params, native_asset};
use crate::records::{Channel, Meta, TxRecord, keys};
use crate::royalties;
use crate::settlement::{self, UpdatePre};
use crate::state::{ChangeSet, Overlay, StateView};

/// A block as the ledger sees it: consensus decides the height, time and proposer.
#[derive(Clone, Debug)]
pub struct Block {
    /// Its height: the last executed height plus one.
    pub height: u64,
    /// Its time (ms since the Unix epoch), not before the last block's.
    pub time_ms: u64,
    /// The validator that proposed it; it receives the fees.
    pub proposer: AccountId,
    /// Its transactions, in execution order.
    pub txs: Vec<SignedTransaction>,
}

/// What became of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// The transaction's hash.
    pub hash: Hash,
    /// Success, or the rule it broke.
    pub result: Result<(), TxError>,
    /// The fee charged (zero when the error leaves the state untouched).
    pub fee_paid: Amount,
    /// What it did (empty on failure).
    pub events: Vec<Event>,
}

/// The result of executing a block.
#[derive(Clone, Debug)]
pub struct BlockOutcome {
    /// The writes to apply to the state, sorted by key.
    pub changes: ChangeSet,
    /// One outcome per transaction, in order.
    pub results: Vec<TxOutcome>,
}

/// Per-transaction results of the pre-pass.
struct Prepared {
    hash: Hash,
    signature_ok: bool,
    updates: Vec<Option<UpdatePre>>,
}

/// Executes `block` on `state`. Pure: the same state and block give the same outcome on every
/// machine.
pub fn execute_block(state: &dyn StateView, block: &Block) -> Result<BlockOutcome, BlockError> {
    execute_block_checked(state, block, &VerifyAll)
}

/// What a caller lends block execution to save signature work (see [`execute_block_checked`]).
///
/// Any `Fn(&Hash, &SignedTransaction) -> bool` is one: it vouches, and lends no keys.
pub trait Checked {
    /// Whether `tx.signature` was verified, under the same rule as
    /// [`cadenza_types::crypto::verify_many`], as `tx.tx.signer`'s signature of `hash` (the
    /// transaction's signing hash).
    fn vouched(&self, hash: &Hash, tx: &SignedTransaction) -> bool;

    /// Signers' keys, decompressed once and remembered across blocks: the signatures that are
    /// verified here are verified with [`cadenza_types::crypto::verify_many_with`], whose
    /// per-signature verdicts are those of `verify_many`.
    fn keys(&self) -> Option<&KeyCache> {
        None
    }
}

/// Vouches for nothing and lends no keys: every signature is verified.
#[derive(Clone, Copy, Debug, Default)]
pub struct VerifyAll;

impl Checked for VerifyAll {
    fn vouched(&self, _: &Hash, _: &SignedTransaction) -> bool {
        false
    }
}

impl<F: Fn(&Hash, &SignedTransaction) -> bool + ?Sized> Checked for F {
    fn vouched(&self, hash: &Hash, tx: &SignedTransaction) -> bool {
        self(hash, tx)
    }
}

/// [`execute_block`] for a caller that has already verified some transactions' signatures:
/// `checked.vouched(hash, tx)` says that `tx.signature` was verified (see [`Checked`]). Those
/// signatures are not verified again; every other one is (with the keys `checked` lends, if
/// any).
///
/// The outcome is the same as [`execute_block`]'s as long as `checked` only vouches for valid
/// signatures: a node passes "admitted to my mempool with exactly this signature", since
/// admission verified it. Vouchers inside `SettleChannels` are always verified here.
pub fn execute_block_checked(
    state: &dyn StateView,
    block: &Block,
    checked: &(impl Checked + ?Sized),
) -> Result<BlockOutcome, BlockError> {
    let meta = read::<Meta>(state, &keys::meta()).ok_or(BlockError::NoGenesis)?;
    let params = read::<Params>(state, &keys::params()).ok_or(BlockError::NoGenesis)?;
    if block.height != meta.height + 1 {
        return Err(BlockError::WrongHeight {
            last: meta.height,
            found: block.height,
        });
    }
    if block.time_ms < meta.time_ms {
        return Err(BlockError::TimeWentBack {
            last: meta.time_ms,
            found: block.time_ms,
        });
    }
    let env = Env {
        chain_id: meta.chain_id.clone(),
        params,
        now_ms: block.time_ms,
        proposer: block.proposer,
        terms: Default::default(),
    };
    let prepared = prepass(state, &block.txs, checked);

    let mut overlay = Overlay::default();
    let mut results = Vec::with_capacity(block.txs.len());
    for (index, (stx, pre)) in block.txs.iter().zip(&prepared).enumerate() {
        let outcome = execute_tx(state, &mut overlay, &env, stx, pre);
        // A transaction past authentication leaves its record (see `TxRecord`).
        if outcome
            .result
            .as_ref()
            .err()
            .is_none_or(TxError::charges_fee)
        {
            let index = u32::try_from(index).expect("a block holds far fewer than 2^32 txs");
            let record = TxRecord::new(
                block.height,
                index,
                outcome.fee_paid,
                outcome.result.as_ref().err(),
            );
            overlay.set(keys::tx(&outcome.hash), Some(record.to_bytes()));
        }
        results.push(outcome);
    }

    let meta = Meta {
        chain_id: meta.chain_id,
        height: block.height,
        time_ms: block.time_ms,
    };
    overlay.set(keys::meta(), Some(meta.to_bytes()));

    if let Err(violation) = conservation::check_block(state, &overlay) {
        panic!(
            "conservation violated by block {}: {violation}",
            block.height
        );
    }
    Ok(BlockOutcome {
        changes: overlay.into_changes(),
        results,
    })
}

fn read<T: cadenza_types::Decode>(state: &dyn StateView, key: &[u8]) -> Option<T> {
    state
        .get(key)
        .map(|b| T::from_bytes(&b).expect("records written by the ledger decode"))
}

/// Executes one transaction against the block's overlay.
fn execute_tx(
    state: &dyn StateView,
    overlay: &mut Overlay,
    env: &Env,
    stx: &SignedTransaction,
    pre: &Prepared,
) -> TxOutcome {
    let tx = &stx.tx;
    let refused = |error: TxError| TxOutcome {
        hash: pre.hash,
        result: Err(error),
        fee_paid: Amount::ZERO,
        events: Vec::new(),
    };

    // Authentication: nothing is written unless all of it passes.
    let mut ctx = Ctx::new(state, overlay, env);
    if tx.chain_id != env.chain_id {
        return refused(TxError::WrongChain {
            expected: env.chain_id.clone(),
            found: tx.chain_id.clone(),
        });
    }
    if cadenza_types::crypto::is_small_order(&tx.signer) {
        return refused(TxError::SmallOrderKey);
    }
    if !pre.signature_ok {
        return refused(TxError::BadSignature);
    }
    let mut account = ctx.account(&tx.signer);
    if tx.nonce < account.nonce {
        return refused(TxError::StaleNonce {
            expected: account.nonce,
            found: tx.nonce,
        });
    }
    if tx.nonce > account.nonce {
        return refused(TxError::FutureNonce {
            expected: account.nonce,
            found: tx.nonce,
        });
    }
    let min_fee = env.params.min_fee_for(&tx.action);
    if tx.fee < min_fee {
        return refused(TxError::FeeTooLow {
            min: min_fee,
            offered: tx.fee,
        });
    }
    let native = native_asset();
    let available = ctx.balance(&tx.signer, &native);
    if available < tx.fee {
        return refused(TxError::CannotPayFee {
            needed: tx.fee,
            available,
        });
    }

    // The fee and nonce are committed whatever the action does.
    ctx.debit(&tx.signer, &native, tx.fee)
        .expect("the balance was checked above");
    ctx.credit(&env.proposer, &native, tx.fee)
        .expect("a balance never exceeds its asset's supply, which fits in u128");
    account.nonce += 1;
    ctx.put_account(&tx.signer, &account);
    let fee_writes = ctx.writes;
    overlay.absorb(fee_writes);

    // The action: its writes are kept only if it succeeds.
    let mut ctx = Ctx::new(state, overlay, env);
    let result = apply_action(&mut ctx, stx, pre);
    let Ctx { writes, events, .. } = ctx;
    match result {
        Ok(()) => {
            overlay.absorb(writes);
            TxOutcome {
                hash: pre.hash,
                result: Ok(()),
                fee_paid: tx.fee,
                events,
            }
        }
        Err(error) => TxOutcome {
            hash: pre.hash,
            result: Err(error),
            fee_paid: tx.fee,
            events: Vec::new(),
        },
    }
}

fn apply_action(ctx: &mut Ctx<'_>, stx: &SignedTransaction, pre: &Prepared) -> Result<(), TxError> {
    let signer = &stx.tx.signer;
    match &stx.tx.action {
        Action::Transfer { to, asset, amount } => bank::transfer(ctx, signer, to, asset, *amount),
        Action::CreateAsset { symbol, decimals } => {
            bank::create_asset(ctx, signer, symbol, *decimals)
        }
        Action::Mint { asset, to, amount } => bank::mint(ctx, signer, asset, to, *amount),
        Action::Burn { asset, amount } => bank::burn(ctx, signer, asset, *amount),
        Action::Faucet => bank::faucet(ctx, signer),
        Action::RegisterTrack {
            essence_id,
            blob_id,
            metadata,
            licence,
            holders,
        } => catalog::register_track(ctx, signer, essence_id, blob_id, metadata, licence, holders),
        Action::UpdateLicence { track, licence } => {
            catalog::update_licence(ctx, signer, track, licence)
        }
        Action::OpenChannel {
            provider,
            asset,
            deposit,
            expiry_ms,
        } => channels::open(
            ctx,
            signer,
            stx.tx.nonce,
            provider,
            asset,
            *deposit,
            *expiry_ms,
        ),
        Action::TopUp { channel, amount } => channels::top_up(ctx, signer, channel, *amount),
        Action::CloseChannel { channel } => channels::close(ctx, signer, channel),
        Action::Withdraw { channel } => channels::withdraw(ctx, signer, channel),
        Action::SettleChannels { updates } => settlement::settle(ctx, updates, &pre.updates),
        Action::Claim { track, asset } => royalties::claim(ctx, signer, track, asset),
    }
}

/// The stateless pre-pass: transaction hashes, all signatures in batches, all receipt chains.
/// Channel owners and heads are read from the state before the block; an update whose channel
/// changes earlier in the block is re-checked from scratch when it executes.
fn prepass(
    state: &dyn StateView,
    txs: &[SignedTransaction],
    checked: &(impl Checked + ?Sized),
) -> Vec<Prepared> {
    let tx_size = |stx: &SignedTransaction| match &stx.tx.action {
        Action::SettleChannels { updates } => {
            1 + updates.iter().map(|u| u.receipts.len() / 16).sum::<usize>()
        }
        _ => 1,
    };
    let hashes: Vec<Hash> = map_chunks(txs, tx_size, |chunk| {
        chunk.iter().map(SignedTransaction::hash).collect()
    });

    // One job per update whose channel exists before the block.
    struct VoucherJob<'a> {
        owner: AccountId,
        from_head: Hash,
        message: Hash,
        update: &'a cadenza_types::ChannelUpdate,
    }
    let mut jobs: Vec<Vec<Option<VoucherJob<'_>>>> = Vec::with_capacity(txs.len());
    for stx in txs {
        let Action::SettleChannels { updates } = &stx.tx.action else {
            jobs.push(Vec::new());
            continue;
        };
        let per_tx = updates
            .iter()
            .map(|update| {
                let channel: Channel =
                    read(state, &keys::channel(&update.voucher.voucher.channel))?;
                Some(VoucherJob {
                    owner: channel.owner,
                    from_head: channel.head,
                    message: update.voucher.voucher.signing_hash(),
                    update,
                })
            })
            .collect();
        jobs.push(per_tx);
    }

    // Signatures the caller vouches for are not verified again; the others go to the batch.
    let vouched: Vec<bool> = txs
        .iter()
        .zip(&hashes)
        .map(|(stx, hash)| checked.vouched(hash, stx))
        .collect();
    let mut items: Vec<SigItem<'_>> = Vec::new();
    for ((stx, hash), vouched) in txs.iter().zip(&hashes).zip(&vouched) {
        if !vouched {
            items.push(SigItem {
                signer: &stx.tx.signer,
                message: hash.as_bytes(),
                signature: &stx.signature,
            });
        }
    }
    let n_tx_items = items.len();
    let flat_jobs: Vec<&VoucherJob<'_>> = jobs.iter().flatten().flatten().collect();
    for job in &flat_jobs {
        items.push(SigItem {
            signer: &job.owner,
            message: job.message.as_bytes(),
            signature: &job.update.voucher.signature,
        });
    }
    let verdicts = match checked.keys() {
        Some(keys) => map_chunks(&items, |_| 64, |chunk| verify_many_with(chunk, keys)),
        None => map_chunks(&items, |_| 64, verify_many),
    };
    let heads: Vec<Hash> = map_chunks(
        &flat_jobs,
        |job| job.update.receipts.len(),
        |chunk| {
            chunk
                .iter()
                .map(|job| ReceiptChain::extend(&job.from_head, &job.update.receipts))
                .collect()
        },
    );

    let mut voucher_verdicts = verdicts[n_tx_items..].iter();
    let mut tx_verdicts = verdicts[..n_tx_items].iter();
    let mut heads = heads.into_iter();
    jobs.into_iter()
        .zip(hashes)
        .zip(vouched)
        .map(|((per_tx, hash), vouched)| Prepared {
            hash,
            signature_ok: vouched || *tx_verdicts.next().expect("one verdict per unvouched tx"),
            updates: per_tx
                .into_iter()
                .map(|job| {
                    job.map(|job| UpdatePre {
                        owner: job.owner,
                        from_head: job.from_head,
                        signature_ok: *voucher_verdicts.next().expect("one verdict per job"),
                        head: heads.next().expect("one head per job"),
                    })
                })
                .collect(),
        })
        .collect()
}
