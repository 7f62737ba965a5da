using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Delivery;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Copies every point's HLS and DASH output to the configured object store as it completes (see
/// <see cref="PointPublisher"/>). It reads the points, never the other way round: ingest does not wait on the
/// store, and a slow or absent store only makes the backlog grow until it answers again.
/// </summary>
internal sealed partial class ObjectPublisher(
    IObjectStore store,
    PointRegistry registry,
    SegmentCache cache,
    PublishStatus status,
    IOptions<PublishingPointOptions> options,
    TimeProvider time,
    ILogger<ObjectPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan _tick = TimeSpan.FromMilliseconds(200);
    private readonly Dictionary<Point, PointPublisher> _points = new(ReferenceEqualityComparer.Instance);
    private readonly PublishOptions _options = options.Value.Publish;
    // Never disposed: a pass that outlives the shutdown's wait still gives its turn back (no wait handle is ever made).
    private readonly SemaphoreSlim _passes = new(options.Value.Publish.MaxConcurrentPasses);
    private bool _overBacklog;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        status.Target = store.Description;
        LogStarted(store.Description, _options.PointPrefix);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ScheduleGuarded(stoppingToken);
                await Task.Delay(_tick, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down
        }

        foreach (var publisher in _points.Values)
        {
            if (publisher.Running is { } running)
            {
                await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            publisher.SaveProgress(force: true);
        }
    }

    // A background service that throws stops the host (every channel's ingest with it): a fault here is logged once
    // until a round goes through again, and the next round tries again.
    private void ScheduleGuarded(CancellationToken stoppingToken)
    {
        try
        {
            Schedule(stoppingToken);
            _scheduleFailing = false;
        }
#pragma warning disable CA1031 // publishing is a copy of what the origin serves: it must never take the origin down
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            if (!_scheduleFailing)
            {
                _scheduleFailing = true;
                LogScheduleFailed(e);
            }
        }
    }

    private bool _scheduleFailing;

    private void Schedule(CancellationToken stoppingToken)
    {
        var now = time.GetUtcNow();
        var current = new HashSet<Point>(ReferenceEqualityComparer.Instance);
        foreach (var point in registry.All)
        {
            if (!point.Path.Value.StartsWith(_options.PointPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            current.Add(point);
            if (!_points.TryGetValue(point, out var publisher))
            {
                publisher = new PointPublisher(point, store, cache, status, _options, registry.Options.DvrWindowSeconds, logger);
                _points[point] = publisher;
            }

            if (publisher.IsDue(now))
            {
                publisher.Running = RunAsync(publisher, stoppingToken);
            }
            else if (publisher.Running is null || publisher.Running.IsCompleted)
            {
                status.SetBacklog(point.Path.Value, publisher.EstimateBacklog());
            }
        }

        foreach (var gone in _points.Keys.Where(p => !current.Contains(p)).ToList())
        {
            if (_points[gone].Running is not { IsCompleted: false })
            {
                _points.Remove(gone);
                if (registry.Find(gone.Path) is null)
                {
                    status.Forget(gone.Path.Value);
                }
            }
        }

        var backlog = status.TotalBacklog;
        if (backlog > _options.MaxBacklog && !_overBacklog)
        {
            _overBacklog = true;
            LogBacklog(backlog, _options.MaxBacklog, status.LastError ?? "none");
        }
        else if (backlog <= _options.MaxBacklog / 2)
        {
            _overBacklog = false;
        }
    }

    private async Task RunAsync(PointPublisher publisher, CancellationToken stoppingToken)
    {
        await Task.Yield();
        var failures = publisher.ConsecutiveFailures;
        var turn = false;
        try
        {
            // Each pass repackages what the store lacks and holds a store connection: after a restart or an outage every
            // point is due at once, and they take turns instead of all the cores and the segment cache at once.
            await _passes.WaitAsync(stoppingToken).ConfigureAwait(false);
            turn = true;
            await publisher.PublishAsync(stoppingToken).ConfigureAwait(false);
            if (failures > 0)
            {
                LogRecovered(publisher.Point.Path.Value, failures);
            }

            if (publisher.VodPublished && publisher.Point.State == PointState.Vod && publisher.PublishedVersion == publisher.Point.Version)
            {
                LogVod(publisher.Point.Path.Value);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // shutting down: what is missing is published at the next start (live) or was already (VOD)
        }
#pragma warning disable CA1031 // any store failure is retried with backoff; the origin keeps serving
        catch (Exception e)
#pragma warning restore CA1031
        {
            var now = time.GetUtcNow();
            publisher.Fail(now, _options.MaxRetryDelaySeconds);
            var cause = e is ObjectStoreException { InnerException: { } inner } ? inner : e;
            status.Failed($"{cause.GetType().Name}: {cause.Message}", now, byTheStore: e is ObjectStoreException);
            LogFailed(publisher.Point.Path.Value, publisher.ConsecutiveFailures, (publisher.NextAttempt - now).TotalSeconds, e.Message);
        }
        finally
        {
            if (turn)
            {
                _passes.Release();
            }
        }
    }


    [LoggerMessage(EventId = 900, Level = LogLevel.Information, Message = "Publishing to {Store} (points starting with '{Prefix}')")]
    private partial void LogStarted(string store, string prefix);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "Publishing {Point} failed (attempt {Attempt}), retrying in {Seconds:0.0} s; the origin keeps serving: {Error}")]
    private partial void LogFailed(string point, int attempt, double seconds, string error);

    [LoggerMessage(EventId = 902, Level = LogLevel.Information, Message = "Publishing {Point} works again after {Failures} failed attempts (a finished event's pass may still have segments to put)")]
    private partial void LogRecovered(string point, int failures);

    [LoggerMessage(EventId = 903, Level = LogLevel.Warning, Message = "Publish backlog is {Backlog} objects (more than {Max}); last store error: {Error}")]
    private partial void LogBacklog(long backlog, int max, string error);

    [LoggerMessage(EventId = 905, Level = LogLevel.Error, Message = "Publishing could not look at the points (tried again every round; the origin keeps serving)")]
    private partial void LogScheduleFailed(Exception error);

    [LoggerMessage(EventId = 904, Level = LogLevel.Information, Message = "Published {Point} as VOD")]
    private partial void LogVod(string point);
}
