using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Time-shifted manifests and playlists (start-over of a programme, or a channel delayed for another time zone: every
/// viewer of it asks with the same link), kept for the index version they were rendered from, in one cache for the
/// whole server (32 MB; keys count against it), so a crowd costs one render per version, not one each, and distinct
/// queries evict one another and never a point's live renderings. A <c>delay</c> moves the edge with the clock
/// between versions too: its answer is kept for half a nominal segment at most (as a CDN keeps a live playlist), so it
/// lists a segment at most that much after it is due, never one before.
/// </summary>
internal sealed class ShiftedOutputs(IOptions<PublishingPointOptions> options) : IDisposable
{
    public const long MaxBytes = 32L * 1024 * 1024;

    private readonly OutputCache _cache = new(MaxBytes);
    private readonly IPNetwork[] _trustedProxies = ClientNetwork.Trusted(options.Value.TrustedProxies);
    // Renders under way, by key and the version they were asked for: everyone else asking for one waits for it.
    private readonly ConcurrentDictionary<(string Key, long Version), TaskCompletionSource<Flight>> _flights = new();
    private long _joined;
    private int _waiting;

    /// <summary>
    /// The gate every render passes: half the cores (at least one) at once, 256 waiting, four per client (a player may
    /// load a master, a video, an audio and a subtitle playlist at once).
    /// </summary>
    public RenderGate Gate { get; } = new(Math.Max(1, Environment.ProcessorCount / 2), 256, maxPerClient: 4);

    /// <summary>
    /// What a render may need first (a TS start-over's I-frame ranges: a look over the whole archive before its scan)
    /// runs before a turn of the <see cref="Gate"/> (a long scan would hold the turn): four per client at once, as the
    /// gate's share, so distinct queries cannot each cost a whole archive's look, and 256 in all.
    /// </summary>
    public RenderGate Preparing { get; } = new(256, 0, maxPerClient: 4);

    /// <summary>Time-shifted answers rendered (each passed the <see cref="Gate"/>).</summary>
    public long Renders => ShiftedRenders.All;

    /// <summary>Time-shifted answers rendered, by where they ran.</summary>
    public RenderCounts ShiftedRenders { get; } = new();

    /// <summary>A point's own (not time-shifted) answers rendered, by where they ran: a VOD point's on the pool.</summary>
    public RenderCounts OwnRenders { get; } = new();

    /// <summary>Requests answered by a render another request had under way (no turn of the gate of their own).</summary>
    public long Joined => Interlocked.Read(ref _joined);

    /// <summary>Requests waiting now for a render another request has under way.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Renders under way (or waiting for their turn) that other requests may wait for.</summary>
    public int Leading => _flights.Count;

    /// <summary>
    /// The cache key of a shifted answer: its point and resource (which names what else its body depends on: a master
    /// the query it passes on, a media playlist a delta update) and the times asked for, not the query's text, so
    /// parameters the render does not read (a CDN's token, a cache buster) do not make renders of their own; with a
    /// delay, also the half segment of the server's clock the request came in.
    /// </summary>
    public static string Key(Point point, string resource, TimeShift shift)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(shift);
        if (shift.DelaySeconds <= 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{point.Serial}/{resource}|{shift.FromSeconds:R}|{shift.ToSeconds:R}");
        }

        var half = Math.Max(TimeSpan.TicksPerSecond / 10, (point.Numbering.NominalTicks > 0 ? point.Numbering.NominalTicks : TimeSpan.TicksPerSecond) / 2);
        return string.Create(CultureInfo.InvariantCulture, $"{point.Serial}/{resource}|{shift.FromSeconds:R}|{shift.ToSeconds:R}|{shift.DelaySeconds:R}@{(long)Math.Floor(shift.NowSeconds * TimeSpan.TicksPerSecond / half)}");
    }

    /// <summary>
    /// Who asks, for the render gate's share per client: the client's network (after a trusted proxy's forwarded
    /// address), or null for a trusted proxy that forwarded none (a CDN's own requests are not limited).
    /// </summary>
    public UInt128? ClientOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Connection.RemoteIpAddress is { } address ? ClientNetwork.LimitedKey(address, _trustedProxies) : null;
    }

    public bool TryGet(string key, long version, out RenderedOutput output) => _cache.TryGet(key, version, out output);

    /// <summary>Renders for the point's current version (counted), keeping the answer under <paramref name="key"/>.</summary>
    public RenderedOutput? Render(Point point, string key, Func<long, RenderedOutput?> render)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(render);
        ShiftedRenders.Count();

        var output = render(point.Version);
        if (output is not null)
        {
            _cache.Set(key, output);
        }

        return output;
    }

    /// <summary>
    /// Boards the render of <paramref name="key"/> for <paramref name="version"/>: the one another request has under way,
    /// to be waited for (a crowd, or viewers behind one address, opening one start-over link at once take one turn of the
    /// gate between them, not one each); or, when there is none, this request's own (<paramref name="leading"/>), which
    /// the next ones wait for and which must be <see cref="Land">landed</see>, then null is returned.
    /// </summary>
    public Task<Flight>? Board(string key, long version, out TaskCompletionSource<Flight>? leading, CancellationToken cancellationToken)
    {
        var mine = new TaskCompletionSource<Flight>(TaskCreationOptions.RunContinuationsAsynchronously);
        var current = _flights.GetOrAdd((key, version), mine);
        leading = current == mine ? mine : null;
        return leading is null ? WaitAsync(current.Task, cancellationToken) : null;
    }

    /// <summary>Ends a render begun by <see cref="Board"/>: those waiting get its answer, or try again themselves.</summary>
    public void Land((string Key, long Version) asked, TaskCompletionSource<Flight> flight, Flight landed)
    {
        ArgumentNullException.ThrowIfNull(flight);
        _flights.TryRemove(KeyValuePair.Create(asked, flight));
        flight.TrySetResult(landed);
    }

    /// <summary>Ends a render that failed: those waiting fail with it.</summary>
    public void Fail((string Key, long Version) asked, TaskCompletionSource<Flight> flight, Exception failure)
    {
        ArgumentNullException.ThrowIfNull(flight);
        _flights.TryRemove(KeyValuePair.Create(asked, flight));
        flight.TrySetException(failure);
    }

    public void Dispose()
    {
        Gate.Dispose();
        Preparing.Dispose();
    }

    private async Task<Flight> WaitAsync(Task<Flight> flight, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            var landed = await flight.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (landed.Answered)
            {
                Interlocked.Increment(ref _joined);
            }

            return landed;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    /// <summary>How a render ended: answered (with an output, or null for nothing to play yet) or not (refused, failed, abandoned).</summary>
    internal readonly record struct Flight(bool Answered, RenderedOutput? Output);
}

/// <summary>Renders counted by where they ran: on the pool, or on a socket event thread (where a long one holds up every connection of that thread).</summary>
internal sealed class RenderCounts
{
    private long _onPool;
    private long _onEventThreads;

    public long OnPool => Interlocked.Read(ref _onPool);

    public long OnEventThreads => Interlocked.Read(ref _onEventThreads);

    public long All => OnPool + OnEventThreads;

    /// <summary>Counts a render made on the calling thread.</summary>
    public void Count() => Interlocked.Increment(ref Thread.CurrentThread.IsThreadPoolThread ? ref _onPool : ref _onEventThreads);
}
