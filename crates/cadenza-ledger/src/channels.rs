//! Payment channels: a listener's deposit in escrow for one provider, drawn down by settled
//! vouchers, closed with a challenge window, and returned after it.

use cadenza_types::{AccountId, Amount, AssetId, ChannelId, ReceiptChain};

use crate::bank;
use crate::ctx::Ctx;
use crate::error::TxError;
use crate::events::Event;
use crate::records::{Channel, keys};

pub(crate) fn load(ctx: &Ctx<'_>, id: &ChannelId) -> Result<Channel, TxError> {
    ctx.get(&keys::channel(id))
        .ok_or(TxError::UnknownChannel(*id))
}

/// Opens a channel from `owner` to `provider`; its id derives from the owner and `nonce`.
pub(crate) fn open(
    ctx: &mut Ctx<'_>,
    owner: &AccountId,
    nonce: u64,
    provider: &AccountId,
    asset: &AssetId,
    deposit: Amount,
    expiry_ms: u64,
) -> Result<(), TxError> {
    bank::require_payment_asset(ctx, asset)?;
    if deposit.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    if expiry_ms <= ctx.now_ms() {
        return Err(TxError::ExpiryInPast {
            expiry_ms,
            now_ms: ctx.now_ms(),
        });
    }
    let id = ChannelId::derive(owner, nonce);
    ctx.debit(owner, asset, deposit)?;
    let channel = Channel {
        owner: *owner,
        provider: *provider,
        asset: *asset,
        deposit: deposit.get(),
        settled_seq: 0,
        settled: 0,
        head: ReceiptChain::start(&id),
        expiry_ms,
        closed_ms: None,
    };
    ctx.put(keys::channel(&id), &channel);
    ctx.emit(Event::ChannelOpened {
        channel: id,
        owner: *owner,
        provider: *provider,
        asset: *asset,
        deposit,
    });
    Ok(())
}

fn require_open(ctx: &Ctx<'_>, id: &ChannelId, channel: &Channel) -> Result<(), TxError> {
    if ctx.now_ms() >= channel.closing_ms() {
        return Err(TxError::ChannelClosed(*id));
    }
    Ok(())
}

/// Adds to an open channel's deposit (owner only).
pub(crate) fn top_up(
    ctx: &mut Ctx<'_>,
    signer: &AccountId,
    id: &ChannelId,
    amount: Amount,
) -> Result<(), TxError> {
    let mut channel = load(ctx, id)?;
    if channel.owner != *signer {
        return Err(TxError::NotChannelOwner);
    }
    require_open(ctx, id, &channel)?;
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    ctx.debit(signer, &channel.asset, amount)?;
    channel.deposit = channel
        .deposit
        .checked_add(amount.get())
        .ok_or(TxError::Overflow)?;
    ctx.put(keys::channel(id), &channel);
    ctx.emit(Event::ChannelToppedUp {
        channel: *id,
        amount,
    });
    Ok(())
}

/// Closes an open channel (owner or provider), starting its challenge window.
pub(crate) fn close(ctx: &mut Ctx<'_>, signer: &AccountId, id: &ChannelId) -> Result<(), TxError> {
    let mut channel = load(ctx, id)?;
    if channel.owner != *signer && channel.provider != *signer {
        return Err(TxError::NotChannelParty);
    }
    require_open(ctx, id, &channel)?;
    channel.closed_ms = Some(ctx.now_ms());
    let window_end_ms = channel.window_end_ms(ctx.params().challenge_window_ms);
    ctx.put(keys::channel(id), &channel);
    ctx.emit(Event::ChannelClosed {
        channel: *id,
        window_end_ms,
    });
    Ok(())
}

/// Returns a channel's remaining escrow to its owner once the challenge window is over, and
/// removes the channel.
pub(crate) fn withdraw(
    ctx: &mut Ctx<'_>,
    signer: &AccountId,
    id: &ChannelId,
) -> Result<(), TxError> {
    let channel = load(ctx, id)?;
    if channel.owner != *signer {
        return Err(TxError::NotChannelOwner);
    }
    let until_ms = channel.window_end_ms(ctx.params().challenge_window_ms);
    if ctx.now_ms() < until_ms {
        return Err(TxError::WindowOpen { until_ms });
    }
    let refund = Amount::new(channel.escrow());
    ctx.credit(&channel.owner, &channel.asset, refund)?;
    ctx.delete(keys::channel(id));
    ctx.emit(Event::ChannelWithdrawn {
        channel: *id,
        refund,
    });
    Ok(())
}
