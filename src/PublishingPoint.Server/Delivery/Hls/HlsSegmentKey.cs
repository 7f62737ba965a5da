using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Identifies one repackaged segment (or, with <see cref="Part"/> 0 or more, one part of it); <see cref="Sequence"/> -1 is the initialization segment.</summary>
internal readonly record struct HlsSegmentKey(Point Point, TrackKey Track, HlsFormat Format, long Sequence, int Part = -1);

internal enum HlsFormat
{
    Ts,
    Fmp4,
}
