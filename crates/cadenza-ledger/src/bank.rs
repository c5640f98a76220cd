//! The bank: balances of every asset, transfers, issued assets, and the devnet faucet.
//!
//! The native asset `CDZ` pays fees. Royalty shares are ordinary assets here; moving them first
//! lets the royalty module settle what the shares earned so far.

use cadenza_types::{AccountId, Amount, AssetId};

use crate::ctx::Ctx;
use crate::error::TxError;
use crate::events::Event;
use crate::params::faucet_account;
use crate::records::{AssetInfo, AssetKind, keys};
use crate::royalties;

/// Whether `symbol` is 1 to 12 characters of A-Z and 0-9.
pub(crate) fn valid_symbol(symbol: &str) -> bool {
    !symbol.is_empty()
        && symbol.len() <= cadenza_types::tx::SYMBOL_MAX_LEN
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Moves funds between two accounts, settling royalties first if they are shares.
pub(crate) fn transfer(
    ctx: &mut Ctx<'_>,
    from: &AccountId,
    to: &AccountId,
    asset: &AssetId,
    amount: Amount,
) -> Result<(), TxError> {
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    let info = ctx.asset(asset).ok_or(TxError::UnknownAsset(*asset))?;
    if let AssetKind::Shares { track } = info.kind {
        royalties::before_share_move(ctx, &track, from, to);
    }
    ctx.debit(from, asset, amount)?;
    ctx.credit(to, asset, amount)?;
    ctx.emit(Event::Transferred {
        from: *from,
        to: *to,
        asset: *asset,
        amount,
    });
    Ok(())
}

/// Creates an asset issued by `issuer`.
pub(crate) fn create_asset(
    ctx: &mut Ctx<'_>,
    issuer: &AccountId,
    symbol: &str,
    decimals: u8,
) -> Result<(), TxError> {
    if !valid_symbol(symbol) || decimals > 38 {
        return Err(TxError::InvalidSymbol(symbol.to_owned()));
    }
    let id = AssetId::issued(issuer, symbol);
    if ctx.asset(&id).is_some() {
        return Err(TxError::AssetExists(id));
    }
    let info = AssetInfo {
        symbol: symbol.to_owned(),
        decimals,
        issuer: Some(*issuer),
        kind: AssetKind::Issued,
        minted: 0,
        burned: 0,
    };
    ctx.put(keys::asset(&id), &info);
    ctx.emit(Event::AssetCreated {
        asset: id,
        issuer: *issuer,
        symbol: symbol.to_owned(),
    });
    Ok(())
}

/// Mints an issued asset (issuer only).
pub(crate) fn mint(
    ctx: &mut Ctx<'_>,
    signer: &AccountId,
    asset: &AssetId,
    to: &AccountId,
    amount: Amount,
) -> Result<(), TxError> {
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    let mut info = ctx.asset(asset).ok_or(TxError::UnknownAsset(*asset))?;
    if info.kind != AssetKind::Issued {
        return Err(TxError::FixedSupply(*asset));
    }
    if info.issuer != Some(*signer) {
        return Err(TxError::NotIssuer(*asset));
    }
    info.minted = info
        .minted
        .checked_add(amount.get())
        .ok_or(TxError::Overflow)?;
    // Supply bounds every balance, so the credit below cannot overflow once minted fits.
    ctx.put(keys::asset(asset), &info);
    ctx.credit(to, asset, amount)?;
    ctx.emit(Event::Minted {
        asset: *asset,
        to: *to,
        amount,
    });
    Ok(())
}

/// Burns part of the signer's balance. Royalty shares cannot be burned: their total must stay
/// 1,000,000 for revenue to be shared exactly.
pub(crate) fn burn(
    ctx: &mut Ctx<'_>,
    signer: &AccountId,
    asset: &AssetId,
    amount: Amount,
) -> Result<(), TxError> {
    if amount.is_zero() {
        return Err(TxError::ZeroAmount);
    }
    let mut info = ctx.asset(asset).ok_or(TxError::UnknownAsset(*asset))?;
    if matches!(info.kind, AssetKind::Shares { .. }) {
        return Err(TxError::FixedSupply(*asset));
    }
    ctx.debit(signer, asset, amount)?;
    info.burned = info
        .burned
        .checked_add(amount.get())
        .ok_or(TxError::Overflow)?;
    ctx.put(keys::asset(asset), &info);
    ctx.emit(Event::Burned {
        asset: *asset,
        from: *signer,
        amount,
    });
    Ok(())
}

/// Pays the devnet faucet's drip to `to`, at most once per cooldown.
pub(crate) fn faucet(ctx: &mut Ctx<'_>, to: &AccountId) -> Result<(), TxError> {
    let Some(faucet) = ctx.params().faucet.clone() else {
        return Err(TxError::FaucetDisabled);
    };
    let mut account = ctx.account(to);
    if let Some(last) = account.last_faucet_ms {
        let ready_ms = last.saturating_add(faucet.cooldown_ms);
        if ctx.now_ms() < ready_ms {
            return Err(TxError::FaucetCooldown { ready_ms });
        }
    }
    let source = faucet_account();
    for (asset, amount) in &faucet.drips {
        transfer(ctx, &source, to, asset, *amount)?;
    }
    account.last_faucet_ms = Some(ctx.now_ms());
    ctx.put_account(to, &account);
    Ok(())
}

/// Whether `asset` can pay for streams (it exists and is not a royalty share).
pub(crate) fn require_payment_asset(ctx: &Ctx<'_>, asset: &AssetId) -> Result<(), TxError> {
    let info = ctx.asset(asset).ok_or(TxError::UnknownAsset(*asset))?;
    if matches!(info.kind, AssetKind::Shares { .. }) {
        return Err(TxError::NotPaymentAsset(*asset));
    }
    Ok(())
}
