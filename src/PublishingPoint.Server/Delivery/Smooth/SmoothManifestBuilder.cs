using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;
using PublishingPoint.Media.Tracks;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Smooth;

/// <summary>Builds the Smooth client manifest of a point from its fragment index.</summary>
internal static class SmoothManifestBuilder
{
    /// <param name="window">DVR window in seconds for live manifests; ignored for VOD.</param>
    /// <param name="shift">Start-over / time-shift from the query string (see <see cref="TimeShift"/>); null for none.</param>
    public static ClientManifest Build(Point point, bool live, int window, int lookAhead, TimeShift? shift = null)
    {
        if (shift is { ToSeconds: { } requestedEnd } && point.MediaEndSeconds() >= requestedEnd)
        {
            live = false; // the requested end has been reached: a closed presentation
        }

        var streams = new List<ClientStreamIndex>();
        long start = long.MaxValue, end = long.MinValue;
        foreach (var (name, tracks) in Groups(point))
        {
            var reference = tracks.MaxBy(t => t.Last?.End ?? long.MinValue)!;
            var timescale = reference.Description.Timescale;
            var fragments = Chunks(reference, tracks, live, window, shift);
            if (fragments.Length == 0)
            {
                continue;
            }

            start = Math.Min(start, Rescale(fragments[0].Time, timescale));
            end = Math.Max(end, Rescale(fragments[^1].End, timescale));
            streams.Add(Stream(name, reference, tracks, fragments));
        }

        // The cues belong to the picture, or to the first stream of a point without one (a radio channel's audio).
        if (streams.Count > 0 && Cues(point, live ? start : long.MinValue, (streams.Find(s => s.Type == "video") ?? streams[0]).Name) is { } cues)
        {
            streams.Add(cues);
        }

        return new ClientManifest
        {
            IsLive = live,
            Duration = streams.Count == 0 ? 0 : end - start,
            // A start-over reaches back past the window: its DVR window covers what it lists, or a client cannot seek there.
            DvrWindowLength = shift is { IsNone: false } && streams.Count > 0 ? Math.Max((long)window * ClientManifest.DefaultTimeScale, end - start) : (long)window * ClientManifest.DefaultTimeScale,
            LookAheadFragmentCount = lookAhead,
            Streams = streams,
        };
    }

    /// <summary>
    /// The point's SCTE-35 cues from <paramref name="from"/> (10 MHz ticks) as a sparse stream whose chunks carry the
    /// splice_info_sections in the manifest (ManifestOutput), beside the stream named <paramref name="parent"/>; null
    /// without cues.
    /// </summary>
    private static ClientStreamIndex? Cues(Point point, long from, string parent)
    {
        var chunks = point.Events().Where(e => e.Scheme == TimedEvent.Scte35Scheme && e.StartTicks >= from)
            .Select(e => new Chunk(e.StartTicks, e.DurationTicks ?? 0, e.Message)).ToArray();
        return chunks.Length == 0 ? null : new ClientStreamIndex
        {
            Type = "text",
            Subtype = "DATA",
            Name = "scte35",
            ParentStreamIndex = parent,
            ManifestOutput = true,
            TimeScale = ClientManifest.DefaultTimeScale,
            Levels = [new ClientQualityLevel { Bitrate = 0, FourCC = string.Empty, CodecPrivateData = string.Empty }],
            Chunks = chunks,
        };
    }

    /// <summary>
    /// The point's tracks by stream name and kind: one StreamIndex each, a QualityLevel per track of the StreamIndex's
    /// timescale (MS-SSTR: one TimeScale and one chunk list for all its levels, and a level's fragments are timed in it):
    /// 10 MHz when a level has it (ismv), else the first level's. A level on another timescale (a CMAF encoder at 90 kHz
    /// beside an ismv one) is not offered: its chunks would be asked for at times it does not have (see <see cref="NotOffered"/>).
    /// </summary>
    private static List<(string Name, List<Track> Tracks)> Groups(Point point)
    {
        var groups = AllGroups(point);
        for (var i = 0; i < groups.Count; i++)
        {
            var scale = StreamTimescale(groups[i].Tracks);
            groups[i] = (groups[i].Name, groups[i].Tracks.FindAll(t => t.Description.Timescale == scale));
        }

        return groups;
    }

    /// <summary>Tracks the Smooth manifest leaves out, because their timescale differs from their StreamIndex's.</summary>
    public static IEnumerable<(Track Track, uint StreamTimescale)> NotOffered(Point point) =>
        from g in AllGroups(point)
        let scale = StreamTimescale(g.Tracks)
        from t in g.Tracks
        where t.Description.Timescale != scale
        select (t, scale);

    private static uint StreamTimescale(List<Track> tracks) =>
        tracks.Exists(t => t.Description.Timescale == ClientManifest.DefaultTimeScale) ? (uint)ClientManifest.DefaultTimeScale : tracks[0].Description.Timescale;

    private static List<(string Name, List<Track> Tracks)> AllGroups(Point point)
    {
        var groups = new List<(string Name, List<Track> Tracks)>();
        foreach (var track in point.Tracks())
        {
            var group = groups.FindIndex(g => g.Name == track.Key.Name && g.Tracks[0].Description.Kind == track.Description.Kind);
            if (group < 0)
            {
                groups.Add((track.Key.Name, [track]));
            }
            else
            {
                groups[group].Tracks.Add(track);
            }
        }

        return groups;
    }

    /// <summary>
    /// The chunk list, shared by every quality level: that of the level that reaches furthest; while live, the DVR
    /// window up to the edge every level has reached (a player never asks for a chunk not yet there); time-shifted
    /// when asked.
    /// </summary>
    private static FragmentEntry[] Chunks(Track reference, List<Track> tracks, bool live, int window, TimeShift? shift)
    {
        var timescale = reference.Description.Timescale;
        FragmentEntry[] fragments;
        if (!live || reference.Last is not { } last)
        {
            fragments = reference.Snapshot();
        }
        else
        {
            var edge = LiveEdge(tracks, last);
            fragments = Array.FindAll(reference.SnapshotFrom(last.End - ((long)window * timescale)), f => f.End <= edge);
        }

        if (shift is not { IsNone: false })
        {
            return fragments;
        }

        var all = reference.Snapshot();
        var (from, to, _) = shift.Select(all, all.Length, timescale);
        var shiftedEdge = live && reference.Last is { } newest ? LiveEdge(tracks, newest) : long.MaxValue;
        var windowStart = live && fragments.Length > 0 ? Math.Max(0, Array.FindIndex(all, f => f.Time == fragments[0].Time)) : 0;
        var first = from ?? windowStart;
        return first < to ? Array.FindAll(all[first..to], f => f.End <= shiftedEdge) : [];
    }

    /// <summary>
    /// A chunk as the manifest lists it: a fragment that starts before time 0 (AAC priming in ffmpeg's ismv) is listed
    /// from 0, because Smooth clients read chunk times as unsigned; its end stays where it is.
    /// </summary>
    internal static Chunk ListedChunk(FragmentEntry fragment) =>
        fragment.Time < 0 ? new Chunk(0, Math.Max(0, fragment.End)) : new Chunk(fragment.Time, fragment.Duration);

    private static ClientStreamIndex Stream(string name, Track reference, List<Track> tracks, FragmentEntry[] fragments)
    {
        var chunks = new Chunk[fragments.Length];
        for (var i = 0; i < fragments.Length; i++)
        {
            chunks[i] = ListedChunk(fragments[i]);
        }

        var levels = new List<ClientQualityLevel>(tracks.Count);
        foreach (var track in tracks.OrderByDescending(t => t.Key.Bitrate))
        {
            levels.Add(Level(track.Description));
        }

        return new ClientStreamIndex
        {
            Type = reference.Description.Kind == TrackKind.Video ? "video" : "audio",
            Name = name,
            TimeScale = reference.Description.Timescale,
            Language = reference.Description.Language,
            Levels = levels,
            Chunks = chunks,
        };
    }

    /// <summary>
    /// The end of the newest chunk every level has; a level lagging more than three chunks behind
    /// (its encoder stalled or left) no longer holds the others back.
    /// </summary>
    private static long LiveEdge(List<Track> tracks, FragmentEntry furthest)
    {
        var edge = furthest.End;
        foreach (var track in tracks)
        {
            if (track.Last is { } last && last.End >= furthest.End - (3 * furthest.Duration))
            {
                edge = Math.Min(edge, last.End);
            }
        }

        return edge;
    }

    private static ClientQualityLevel Level(TrackDescription d) => new()
    {
        Bitrate = d.Key.Bitrate,
        FourCC = d.FourCC,
        CodecPrivateData = d.CodecPrivateData,
        MaxWidth = d.Width,
        MaxHeight = d.Height,
        SamplingRate = d.SamplingRate,
        Channels = d.Channels,
        BitsPerSample = d.BitsPerSample,
        PacketSize = d.PacketSize,
        AudioTag = d.AudioTag,
    };

    private static long Rescale(long value, uint timescale) =>
        timescale == ClientManifest.DefaultTimeScale ? value : (long)((Int128)value * ClientManifest.DefaultTimeScale / timescale);
}
