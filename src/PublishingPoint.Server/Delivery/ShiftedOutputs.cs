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
    private long _renders;

    /// <summary>
    /// The gate every render passes: half the cores (at least one) at once, 256 waiting, four per client (a player may
    /// load a master, a video, an audio and a subtitle playlist at once).
    /// </summary>
    public RenderGate Gate { get; } = new(Math.Max(1, Environment.ProcessorCount / 2), 256, maxPerClient: 4);

    /// <summary>Time-shifted answers rendered (each passed the <see cref="Gate"/>).</summary>
    public long Renders => Interlocked.Read(ref _renders);

    /// <summary>The cache key of a shifted answer: its point, resource and query, and with a delay the clock's half segment.</summary>
    public static string Key(Point point, string resource, TimeShift shift, string? query, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(shift);
        if (shift.DelaySeconds <= 0)
        {
            return $"{point.Serial}/{resource}{query}";
        }

        var half = Math.Max(TimeSpan.TicksPerSecond / 10, (point.Numbering.NominalTicks > 0 ? point.Numbering.NominalTicks : TimeSpan.TicksPerSecond) / 2);
        return string.Create(CultureInfo.InvariantCulture, $"{point.Serial}/{resource}{query}@{now.UtcTicks / half}");
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
        Interlocked.Increment(ref _renders);
        var output = render(point.Version);
        if (output is not null)
        {
            _cache.Set(key, output);
        }

        return output;
    }

    public void Dispose() => Gate.Dispose();
}
