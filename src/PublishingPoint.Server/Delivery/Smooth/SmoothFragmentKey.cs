using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Smooth;

/// <summary>
/// Identifies one Smooth fragment as answered: the fragment at <paramref name="Time"/> with <paramref name="Following"/>
/// look-ahead entries in its tfrf (a fragment near the live edge is answered again, with more, as the next ones arrive),
/// whole or its 'moof' alone (<paramref name="Info"/>: a FragmentInfo request).
/// </summary>
internal readonly record struct SmoothFragmentKey(Point Point, TrackKey Track, long Time, int Following, bool Info = false);
