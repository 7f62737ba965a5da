using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Time-shifted manifests and playlists with a fixed start or end (start-over of a programme: every viewer of it asks
/// with the same link), kept for the index version they were rendered from, in one cache for the whole server
/// (32 MB; keys count against it), so a crowd costs one render per version, not one each, and distinct queries evict
/// one another and never a point's live renderings. A <c>delay</c> moves with the clock between versions: rendered
/// each time.
/// </summary>
internal sealed class ShiftedOutputs
{
    public const long MaxBytes = 32L * 1024 * 1024;

    private readonly OutputCache _cache = new(MaxBytes);
    private long _renders;

    /// <summary>Time-shifted answers rendered (each passed the <see cref="RenderGate"/>).</summary>
    public long Renders => Interlocked.Read(ref _renders);

    /// <summary>The cache key of a shifted answer, or null when it is not kept (a delay).</summary>
    public static string? Key(Point point, string resource, TimeShift shift, string? query) =>
        shift.DelaySeconds > 0 ? null : $"{point.Serial}/{resource}{query}";

    public bool TryGet(string? key, long version, out RenderedOutput output)
    {
        output = null!;
        return key is not null && _cache.TryGet(key, version, out output);
    }

    /// <summary>Renders for the point's current version (counted), keeping the answer under <paramref name="key"/>.</summary>
    public RenderedOutput? Render(Point point, string? key, Func<long, RenderedOutput?> render)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(render);
        Interlocked.Increment(ref _renders);
        var output = render(point.Version);
        if (output is not null && key is not null)
        {
            _cache.Set(key, output);
        }

        return output;
    }
}
