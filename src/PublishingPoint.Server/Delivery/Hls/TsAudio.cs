using System.Runtime.CompilerServices;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>
/// The audio a TS segment muxes, chosen for each segment: the first of the point's audio tracks (highest bit rate
/// first) that has media through the segment, or that, while live, is still fed and will have it. Chosen at the edge
/// alone, a segment made again later (the cache let it go, the store asked, a restart) took whichever audio was fed
/// then, other bytes under the same name; and a VOD took the surviving encoder's audio for the time before it joined.
/// Where the choice moves from one segment to the next (an encoder stopped, or came back), the playlist marks
/// EXT-X-DISCONTINUITY: the two encoders' AAC need not share a configuration.
/// </summary>
internal static class TsAudio
{
    // A hole or an edge shorter than this does not take an audio track off a segment: audio and video fragments do
    // not end together, and AAC priming starts the audio a little after the video.
    private const long ToleranceTicks = TimeSpan.TicksPerSecond;

    private static readonly ConditionalWeakTable<Track, Switches> _switches = [];

    /// <summary>The audio the TS segment of <paramref name="segment"/> (a fragment of <paramref name="video"/>) muxes.</summary>
    public static Track? For(Point point, Track video, FragmentEntry segment, bool live)
    {
        var tracks = point.Tracks();
        return For(tracks, HlsPlaylistBuilder.EdgeTicks(tracks), video, segment, live);
    }

    private static Track? For(Track[] tracks, long edge, Track video, FragmentEntry segment, bool live)
    {
        Track? first = null;
        foreach (var audio in tracks)
        {
            if (audio.Description.Kind != TrackKind.Audio || audio.Last is not { } last)
            {
                continue;
            }

            first ??= audio;
            var scale = audio.Description.Timescale;
            var from = Timescale.Rescale(segment.Time, video.Description.Timescale, scale);
            var to = Timescale.Rescale(segment.End, video.Description.Timescale, scale);
            if (live && to > last.End && HlsPlaylistBuilder.IsStillFed(audio, last, edge))
            {
                return audio; // it will have this segment's audio: the segment waits for it
            }

            if (Covers(audio, from, to, Timescale.Rescale(ToleranceTicks, TimeSpan.TicksPerSecond, scale)))
            {
                return audio;
            }
        }

        return first;
    }

    /// <summary>
    /// Where the audio of <paramref name="video"/>'s TS segments changes, among the first <paramref name="count"/> of
    /// <paramref name="fragments"/> and those before them: how many changes there were at or before segment
    /// <paramref name="first"/> (for the discontinuity sequence) and a test for a segment number. A listed segment's
    /// choice is settled (its audio has arrived), so each is made once, kept per track from the index's start. Every
    /// video track of the point is brought up to <paramref name="first"/> together, so the variants count the same
    /// changes whichever is asked for first. A change at a segment whose discontinuity the index counts already (an
    /// encoder's restart) is not counted twice.
    /// </summary>
    public static (long Before, Func<long, bool> At) Changes(Point point, Track video, FragmentEntry[] fragments, int count, long first, bool live)
    {
        var tracks = point.Tracks();
        var edge = HlsPlaylistBuilder.EdgeTicks(tracks);
        foreach (var other in tracks)
        {
            if (other.Description.Kind == TrackKind.Video && other != video)
            {
                var theirs = _switches.GetOrCreateValue(other);
                lock (theirs)
                {
                    theirs.NoteOlder(tracks, edge, other, first, live);
                }
            }
        }

        var switches = _switches.GetOrCreateValue(video);
        lock (switches)
        {
            if (count > 0)
            {
                switches.NoteOlder(tracks, edge, video, fragments[0].Sequence, live);
            }

            switches.Note(tracks, edge, video, fragments, count, live);
            // Not past what this render lists: the index may have been pruned since its copy was made.
            switches.Trim(Math.Min(video.First?.Sequence ?? long.MinValue, first));
            var numbers = switches.Numbers;
            if (numbers.Count == 0)
            {
                return (switches.Trimmed, static _ => false);
            }

            var at = numbers.BinarySearch(first);
            var before = switches.Trimmed + (at >= 0 ? at + 1 : ~at);
            var within = numbers.ToArray();
            return (before, n => Array.BinarySearch(within, n) >= 0);
        }
    }

    // Media from `from` to `to` (the track's timescale) with no hole longer than the tolerance, at either edge either.
    private static bool Covers(Track audio, long from, long to, long tolerance)
    {
        var reached = from;
        foreach (var fragment in audio.SnapshotBetween(from, to))
        {
            if (fragment.Time - reached > tolerance)
            {
                return false;
            }

            reached = Math.Max(reached, fragment.End);
        }

        return to - reached <= tolerance;
    }

    private sealed class Switches
    {
        public long Through = long.MinValue;
        public Track? Audio;
        public readonly List<long> Numbers = [];

        /// <summary>Changes at segments the index no longer holds: counted, no longer listed.</summary>
        public long Trimmed;

        // The segments before `sequence` not seen yet: older than those a playlist lists, so settled too.
        public void NoteOlder(Track[] tracks, long edge, Track video, long sequence, bool live)
        {
            if (sequence > Through + 1 || Through == long.MinValue)
            {
                var older = video.SnapshotRange(Through == long.MinValue ? long.MinValue : Through + 1, sequence, int.MaxValue);
                Note(tracks, edge, video, older, older.Length, live);
            }
        }

        public void Note(Track[] tracks, long edge, Track video, FragmentEntry[] fragments, int count, bool live)
        {
            for (var i = 0; i < count; i++)
            {
                if (fragments[i].Sequence <= Through)
                {
                    continue;
                }

                var audio = For(tracks, edge, video, fragments[i], live);
                // A discontinuity the index counts (Track.Register: right after the segment before) already has the tag.
                var counted = fragments[i].Discontinuity && fragments[i].Sequence == Through + 1;
                if (Audio is not null && audio is not null && audio != Audio && !counted)
                {
                    Numbers.Add(fragments[i].Sequence);
                }

                Audio = audio ?? Audio;
                Through = fragments[i].Sequence;
            }
        }

        public void Trim(long firstIndexed)
        {
            var gone = 0;
            while (gone < Numbers.Count && Numbers[gone] < firstIndexed)
            {
                gone++;
            }

            Numbers.RemoveRange(0, gone);
            Trimmed += gone;
        }
    }
}
