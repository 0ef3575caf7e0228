//! Starting a node: open the store, build the Raft instance, bootstrap if asked, start the
//! background tasks, serve HTTP until a signal, then shut Raft down and flush sled.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use service_core::{server, Metrics};
use toystore_api::catalog::CatalogClient;

use crate::app::{App, SharedApp};
use crate::config::Config;
use crate::confirm::Confirmer;
use crate::network::HttpNetwork;
use crate::propose::Proposer;
use crate::raft_metrics::RaftGauges;
use crate::reserve::Reserver;
use crate::store;
use crate::typ::{NodeId, Raft};

/// How long a catalog call from a node may take.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(3);

/// How long Raft gets to stop after the HTTP server has: with the server's grace period
/// and the final flush, the contract's 5 s.
const RAFT_SHUTDOWN: Duration = Duration::from_secs(1);

/// How long one snapshot chunk may take to send and, for the last, to install.
const INSTALL_SNAPSHOT_TIMEOUT_MS: u64 = 60_000;

/// The openraft configuration from the command line.
fn raft_config(config: &Config) -> anyhow::Result<openraft::Config> {
    let raft = openraft::Config {
        cluster_name: "toystore-orders".into(),
        heartbeat_interval: config.heartbeat_ms,
        election_timeout_min: config.election_timeout_min_ms,
        election_timeout_max: config.election_timeout_max_ms,
        // crate::snapshots triggers them, spaced in proportion to the state.
        snapshot_policy: openraft::SnapshotPolicy::Never,
        // The contract purges the log behind each snapshot; laggards get the snapshot.
        max_in_snapshot_log_to_keep: 0,
        // The last chunk's RPC answers once the follower has installed the whole state, which
        // takes seconds at a million orders; shorter, a fresh node's install times out and
        // starts over for ever.
        install_snapshot_timeout: INSTALL_SNAPSHOT_TIMEOUT_MS,
        snapshot_max_chunk_size: 1 << 20,
        ..Default::default()
    };
    raft.validate().context("invalid raft timing")
}

/// Runs a node until SIGTERM/SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let security = config.security.load()?;
    let listener = server::bind(&config.listen).await?;
    security.log(&config.listen);
    let data_dir = config.data_dir();
    let db = store::open_db(&data_dir)?;
    let metrics = Metrics::new("raft_node");
    let gauges = RaftGauges::register(&metrics);
    let stages = gauges.raft_stages.clone();
    let (log, state) = store::open_timed(&db, &data_dir, stages.log_flush, stages.apply)?;
    let network = HttpNetwork::new(
        config.peers.0.clone(),
        &security.transport,
        stages.append_rpc,
    )?;
    let not_a_voter = network.not_a_voter();
    let raft = Raft::new(
        config.id,
        Arc::new(raft_config(&config)?),
        network,
        log.clone(),
        state.clone(),
    )
    .await
    .context("start raft")?;

    if config.bootstrap {
        bootstrap(&raft, &config).await?;
    }

    let http = security
        .transport
        .http(|b| b.timeout(CATALOG_TIMEOUT))
        .context("http client")?;
    let app: SharedApp = Arc::new(App {
        id: config.id,
        raft: raft.clone(),
        log,
        state,
        catalog: CatalogClient::new(&config.catalog, http.clone()),
        reserver: Reserver::start(CatalogClient::new(&config.catalog, http.clone())),
        proposer: Proposer::start(raft.clone()),
        confirmer: Confirmer::start(CatalogClient::new(&config.catalog, http)),
        config: config.clone(),
        commit_latency: gauges.commit_latency.clone(),
        buy_stages: gauges.buy_stages.clone(),
    });
    tracing::info!(
        id = config.id,
        data_dir = %data_dir.display(),
        peers = ?config.peers.0,
        "raft node started"
    );

    let shutdown = server::shutdown_on_signal();
    spawn_background(&app, gauges, not_a_voter, &shutdown);
    let fatal = tokio::spawn(crate::failstop::watch(raft.clone(), shutdown.clone()));
    let router = crate::http::router(app, metrics, &security.credentials);
    let options = server::ServeOptions {
        tls: security.server_tls.clone(),
        limits: config.limits.clone(),
    };
    let served = server::serve(listener, router, shutdown, options).await;
    if let Ok(Some(fatal)) = fatal.await {
        // Nothing more is flushed: the disk already failed once.
        anyhow::bail!("raft stopped on a fatal error: {fatal}");
    }

    match tokio::time::timeout(RAFT_SHUTDOWN, raft.shutdown()).await {
        Ok(Ok(())) => tracing::info!("raft stopped"),
        Ok(Err(err)) => tracing::warn!("raft shutdown: {err}"),
        Err(_) => tracing::warn!("raft did not stop in time"),
    }
    store::flush(&db).await.context("flush sled")?;
    tracing::info!("store flushed; bye");
    served
}

/// The node's background tasks, each until `shutdown`: the Raft gauges, the reconciler,
/// the snapshot schedule, and the removed node's watch on its own membership.
fn spawn_background(
    app: &SharedApp,
    gauges: RaftGauges,
    not_a_voter: Arc<tokio::sync::Notify>,
    shutdown: &tokio_util::sync::CancellationToken,
) {
    tokio::spawn(crate::raft_metrics::follow(
        app.raft.clone(),
        app.id,
        gauges,
        shutdown.clone(),
    ));
    tokio::spawn(crate::reconcile::run(app.clone(), shutdown.clone()));
    tokio::spawn(crate::snapshots::run(
        app.raft.clone(),
        app.id,
        app.config.snapshot_logs,
        shutdown.clone(),
    ));
    tokio::spawn(crate::removal::run(
        app.raft.clone(),
        app.id,
        not_a_voter,
        shutdown.clone(),
    ));
}

/// Initializes a fresh cluster with `--peers` (or the `--bootstrap-voters` among them) as
/// voters; a node with state ignores it.
async fn bootstrap(raft: &Raft, config: &Config) -> anyhow::Result<()> {
    if raft.is_initialized().await.context("raft state")? {
        tracing::info!("store already initialized; --bootstrap ignored");
        return Ok(());
    }
    let members: std::collections::BTreeMap<NodeId, openraft::BasicNode> = config
        .initial_voters()
        .into_iter()
        .map(|(id, addr)| (id, openraft::BasicNode::new(addr)))
        .collect();
    tracing::info!(voters = ?members.keys().collect::<Vec<_>>(), "bootstrapping the cluster");
    match raft.initialize(members).await {
        Ok(()) => Ok(()),
        // Another bootstrapper got there first and already replicated to us.
        Err(openraft::error::RaftError::APIError(
            openraft::error::InitializeError::NotAllowed(_),
        )) => Ok(()),
        Err(err) => Err(anyhow::anyhow!("bootstrap failed: {err}")),
    }
}
