//! An in-memory chain and signing wallets, for tests, benchmarks and tools that drive the ledger
//! without a node.

use cadenza_types::{
    AccountId, Action, Amount, AssetId, ChainId, Licence, Price, SecretKey, SignedTransaction,
    Transaction, Uses,
};

use crate::exec::{Block, BlockOutcome, TxOutcome, execute_block};
use crate::genesis::init_genesis;
use crate::params::Genesis;
use crate::state::MemoryState;

/// A streaming licence at `amount` base units of `asset` per stream, a stream counting after
/// `min_play_ms`: every territory, valid from time 0 for ever, terms at an example URL.
pub fn stream_licence(asset: AssetId, amount: u128, min_play_ms: u32) -> Licence {
    Licence {
        price: Price {
            asset,
            amount: Amount::new(amount),
        },
        uses: Uses::STREAM,
        territories: vec![],
        valid_from_ms: 0,
        valid_until_ms: None,
        url: "https://example.org/licence".into(),
        min_play_ms,
    }
}

/// A chain held in memory: a [`MemoryState`] advanced block by block.
#[derive(Clone, Debug)]
pub struct MemoryChain {
    /// The state after the last block.
    pub state: MemoryState,
    /// The time the next block will carry.
    pub next_time_ms: u64,
    /// Who proposes (and earns the fees of) the blocks.
    pub proposer: AccountId,
}

impl MemoryChain {
    /// A chain started from `genesis`, its first block one second after genesis time.
    ///
    /// # Panics
    /// If the genesis configuration is invalid.
    pub fn new(genesis: &Genesis, proposer: AccountId) -> MemoryChain {
        let mut state = MemoryState::new();
        let changes = init_genesis(&state, genesis).expect("valid genesis");
        state.apply(changes);
        MemoryChain {
            state,
            next_time_ms: genesis.time_ms + 1_000,
            proposer,
        }
    }

    /// The height of the last executed block.
    pub fn height(&self) -> u64 {
        crate::query::meta(&self.state).map_or(0, |m| m.height)
    }

    /// Executes one block of `txs`, applies it, advances time by one second, and returns each
    /// transaction's outcome.
    pub fn execute(&mut self, txs: Vec<SignedTransaction>) -> Vec<TxOutcome> {
        self.execute_block(txs).results
    }

    /// Like [`MemoryChain::execute`], returning the whole outcome (changes included).
    pub fn execute_block(&mut self, txs: Vec<SignedTransaction>) -> BlockOutcome {
        let block = Block {
            height: self.height() + 1,
            time_ms: self.next_time_ms,
            proposer: self.proposer,
            txs,
        };
        let outcome = execute_block(&self.state, &block).expect("a well-formed block");
        self.state.apply(outcome.changes.clone());
        self.next_time_ms += 1_000;
        outcome
    }

    /// Moves the clock of the next block forward.
    pub fn advance_ms(&mut self, ms: u64) {
        self.next_time_ms += ms;
    }
}

/// A key with a local nonce counter that signs transactions for one chain.
#[derive(Clone, Debug)]
pub struct Wallet {
    /// The key.
    pub key: SecretKey,
    /// The nonce the next transaction will carry.
    pub nonce: u64,
    /// The chain signed for.
    pub chain_id: ChainId,
    /// The fee offered.
    pub fee: Amount,
}

impl Wallet {
    /// A wallet for the key with `seed`.
    pub fn new(seed: [u8; 32], chain_id: ChainId, fee: Amount) -> Wallet {
        Wallet {
            key: SecretKey::from_seed(seed),
            nonce: 0,
            chain_id,
            fee,
        }
    }

    /// The wallet's account.
    pub fn account(&self) -> AccountId {
        self.key.account()
    }

    /// The unsigned transaction of `action` with the next nonce (the nonce is consumed).
    pub fn tx(&mut self, action: Action) -> Transaction {
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: self.account(),
            nonce: self.nonce,
            fee: self.fee,
            action,
        };
        self.nonce += 1;
        tx
    }

    /// Signs `action` with the next nonce.
    pub fn sign(&mut self, action: Action) -> SignedTransaction {
        let tx = self.tx(action);
        tx.sign(&self.key)
    }
}
