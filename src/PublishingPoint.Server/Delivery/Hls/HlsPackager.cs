using PublishingPoint.Media.Hls;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.MpegTs;
using PublishingPoint.Media.Timing;
using PublishingPoint.Server.Points;

namespace PublishingPoint.Server.Delivery.Hls;

/// <summary>Repackages ingested fragments into HLS segments: MPEG-TS with muxed audio, or CMAF fMP4.</summary>
internal static class HlsPackager
{
    // Aligned counters let any segment be produced on its own, in any order, with continuous CCs.
    private static readonly TsMuxerOptions _tsOptions = new() { AlignContinuityCounters = true };
    private static readonly TsMuxerOptions _tsOptionsWithId3 = _tsOptions with { TimedId3 = true };

    // Every output timestamp is moved 10 s up, as Apple's segmenters do, so decode times before presentation
    // time zero (B-frames, AAC priming) stay positive instead of wrapping the 33-bit clock or underflowing 'tfdt'.
    internal const long TimeOffsetSeconds = 10;
    private const long TsTimeOffset90k = TimeOffsetSeconds * Timescale.MpegTs;

    /// <summary>
    /// Video fragment <paramref name="sequence"/> of <paramref name="video"/> and the audio samples of
    /// <paramref name="audio"/> whose decode time falls in the same interval, as one transport stream segment.
    /// </summary>
    /// <param name="number">The segment's media sequence number, which sets its continuity counters.</param>
    /// <param name="point">Whose timed ID3 events starting in the segment ride in it as timed metadata.</param>
    /// <returns>The segment in an array of the fragment pool (release it when done).</returns>
    public static async ValueTask<FragmentBuffer> TsSegmentAsync(Point point, Track video, Track? audio, FragmentEntry[] fragments, int sequence, long number, CancellationToken cancellationToken)
    {
        var samples = await TsSamplesAsync(video, audio, fragments, sequence, cancellationToken).ConfigureAwait(false);
        var output = new PooledSegmentWriter();
        try
        {
            var (withId3, tags) = TimedId3(point, video, fragments, sequence);
            TsWriter(video, audio, withId3).WriteSegment(samples.Video, samples.Audio, TsContinuityCounters.ForAlignedSegment(number), output, tags);
            return output.Take();
        }
        catch
        {
            output.Abandon();
            throw;
        }
        finally
        {
            samples.Return();
        }
    }

    /// <summary>
    /// Whether the point's TS segments declare a timed ID3 stream (once it has carried an ID3 event, so the program map
    /// stays the same from segment to segment), and the tags that start within video fragment <paramref name="sequence"/>,
    /// at their times on the TS clock.
    /// </summary>
    private static (bool Declared, TsSample[] Tags) TimedId3(Point point, Track video, FragmentEntry[] fragments, int sequence)
    {
        if (!point.CarriesId3)
        {
            return (false, []);
        }

        var timescale = video.Description.Timescale;
        var from = Timescale.Rescale(fragments[sequence].Time, timescale, TimeSpan.TicksPerSecond);
        var to = Timescale.Rescale(HlsTimeline.End(fragments, sequence), timescale, TimeSpan.TicksPerSecond);
        var tags = new List<TsSample>();
        foreach (var e in point.EventsStartingIn(from, to))
        {
            if (e.IsId3)
            {
                var pts = TsTimeOffset90k + Timescale.Rescale(e.StartTicks, TimeSpan.TicksPerSecond, Timescale.MpegTs);
                tags.Add(new TsSample(pts, pts, true, e.Message));
            }
        }

        return (true, [.. tags]);
    }

    /// <summary>
    /// Where the I-frame of TS segment <paramref name="sequence"/> ends (its byte range starts at 0: PAT, PMT, the
    /// keyframe's PES): computed once per fragment, without writing the segment.
    /// </summary>
    public static async Task<int> TsKeyframeEndAsync(Point point, Track video, Track? audio, FragmentEntry[] fragments, int sequence, CancellationToken cancellationToken)
    {
        var entry = fragments[sequence];
        if (entry.TsKeyframeEnd is { } known)
        {
            return known;
        }

        var samples = await TsSamplesAsync(video, audio, fragments, sequence, cancellationToken).ConfigureAwait(false);
        try
        {
            var (withId3, tags) = TimedId3(point, video, fragments, sequence);
            var end = TsWriter(video, audio, withId3).KeyframeEnd(samples.Video, samples.Audio, tags);
            entry.TsKeyframeEnd = end;
            return end;
        }
        finally
        {
            samples.Return();
        }
    }

    /// <summary>A segment's samples on the TS clock, in buffers rented for the time it takes to write it.</summary>
    private readonly struct TsSamples(TsSample[] video, int videoCount, TsSample[] audio, int audioCount, FragmentInputs inputs)
    {
        public ReadOnlySpan<TsSample> Video => video.AsSpan(0, videoCount);

        public ReadOnlySpan<TsSample> Audio => audio.AsSpan(0, audioCount);

        // Cleared: the samples hold the fragments' bytes, which a pooled array must not keep alive.
        public void Return()
        {
            System.Buffers.ArrayPool<TsSample>.Shared.Return(video, clearArray: true);
            System.Buffers.ArrayPool<TsSample>.Shared.Return(audio, clearArray: true);
            inputs.Return();
        }
    }

    /// <summary>The fragments' bytes a segment is made from, and the audio entries it takes them from, in pooled arrays.</summary>
    private struct FragmentInputs()
    {
        private FragmentBytes[] _bytes = System.Buffers.ArrayPool<FragmentBytes>.Shared.Rent(4);
        private int _count;

        public FragmentEntry[] Entries { get; private set; } = System.Buffers.ArrayPool<FragmentEntry>.Shared.Rent(4);

        /// <summary>The entries of <paramref name="track"/> between the two times, into <see cref="Entries"/>; how many.</summary>
        public int CopyBetween(Track track, long from, long to)
        {
            var count = track.CopyBetween(from, to, Entries);
            if (count > Entries.Length)
            {
                System.Buffers.ArrayPool<FragmentEntry>.Shared.Return(Entries, clearArray: true);
                Entries = System.Buffers.ArrayPool<FragmentEntry>.Shared.Rent(count);
                count = Math.Min(track.CopyBetween(from, to, Entries), Entries.Length);
            }

            return count;
        }

        public byte[] Add(FragmentBytes bytes)
        {
            _bytes = Grown(_bytes, _count);
            _bytes[_count++] = bytes;
            return bytes.Array;
        }

        public readonly void Return()
        {
            foreach (var bytes in _bytes.AsSpan(0, _count))
            {
                bytes.Dispose();
            }

            System.Buffers.ArrayPool<FragmentBytes>.Shared.Return(_bytes, clearArray: true);
            System.Buffers.ArrayPool<FragmentEntry>.Shared.Return(Entries, clearArray: true);
        }
    }

    private static async ValueTask<TsSamples> TsSamplesAsync(Track video, Track? audio, FragmentEntry[] fragments, int sequence, CancellationToken cancellationToken)
    {
        var inputs = new FragmentInputs();
        TsSample[]? videoSamples = null;
        TsSample[]? audioSamples = null;
        try
        {
            var entry = fragments[sequence];
            var videoTimescale = video.Description.Timescale;
            var videoBytes = inputs.Add(await entry.RentAsync(cancellationToken).ConfigureAwait(false));
            var samples = entry.SamplesIn(videoBytes);
            var shift = video.DecodeShift;
            videoSamples = System.Buffers.ArrayPool<TsSample>.Shared.Rent(Math.Max(samples.Length, 1));
            for (var i = 0; i < samples.Length; i++)
            {
                var s = samples[i];
                var pts = TsTimeOffset90k + Timescale.To90k(s.PresentationTime, videoTimescale);
                var dts = TsTimeOffset90k + Timescale.To90k(s.DecodeTime - shift, videoTimescale);
                videoSamples[i] = new TsSample(Math.Min(dts, pts), pts, s.IsSync, videoBytes.AsMemory(s.DataOffset, s.Size));
            }

            audioSamples = System.Buffers.ArrayPool<TsSample>.Shared.Rent(128);
            var audioCount = 0;
            if (audio is not null)
            {
                var audioTimescale = audio.Description.Timescale;
                var from = Timescale.Rescale(entry.Time, videoTimescale, audioTimescale);
                var to = Timescale.Rescale(HlsTimeline.End(fragments, sequence), videoTimescale, audioTimescale);
                var fragmentCount = inputs.CopyBetween(audio, from, to);
                for (var f = 0; f < fragmentCount; f++)
                {
                    var fragment = inputs.Entries[f];
                    var bytes = inputs.Add(await fragment.RentAsync(cancellationToken).ConfigureAwait(false));
                    foreach (var s in fragment.SamplesIn(bytes))
                    {
                        if (s.DecodeTime >= from && s.DecodeTime < to)
                        {
                            audioSamples = Grown(audioSamples, audioCount);
                            var time = TsTimeOffset90k + Timescale.To90k(s.DecodeTime, audioTimescale);
                            audioSamples[audioCount++] = new TsSample(time, time, true, bytes.AsMemory(s.DataOffset, s.Size));
                        }
                    }
                }
            }

            return new TsSamples(videoSamples, samples.Length, audioSamples, audioCount, inputs);
        }
        catch
        {
            ReturnAll(videoSamples, audioSamples, inputs);
            throw;
        }
    }

    /// <summary>A pooled array with room for one more item after <paramref name="count"/>: itself, or a larger one holding its items.</summary>
    private static T[] Grown<T>(T[] items, int count)
    {
        if (count < items.Length)
        {
            return items;
        }

        var larger = System.Buffers.ArrayPool<T>.Shared.Rent(count * 2);
        items.AsSpan(0, count).CopyTo(larger);
        System.Buffers.ArrayPool<T>.Shared.Return(items, clearArray: true);
        return larger;
    }

    private static void ReturnAll(TsSample[]? video, TsSample[]? audio, FragmentInputs inputs)
    {
        if (video is not null)
        {
            System.Buffers.ArrayPool<TsSample>.Shared.Return(video, clearArray: true);
        }

        if (audio is not null)
        {
            System.Buffers.ArrayPool<TsSample>.Shared.Return(audio, clearArray: true);
        }

        inputs.Return();
    }

    /// <summary>Audio fragment <paramref name="entry"/> as a packed-audio segment: ID3 timestamp (the same 10 s lift as TS), ADTS frames.</summary>
    public static async Task<byte[]> PackedAudioAsync(Track audio, FragmentEntry entry, CancellationToken cancellationToken)
    {
        using var input = await entry.RentAsync(cancellationToken).ConfigureAwait(false);
        var bytes = input.Array;
        var samples = entry.SamplesIn(bytes);
        var frames = new ReadOnlyMemory<byte>[samples.Length];
        for (var i = 0; i < samples.Length; i++)
        {
            frames[i] = bytes.AsMemory(samples[i].DataOffset, samples[i].Size);
        }

        var first = samples.Length > 0 ? samples[0].DecodeTime : entry.Time;
        return PackedAudioWriter.Write(audio.Description.RequireAac(), TsTimeOffset90k + Timescale.To90k(first, audio.Description.Timescale), frames);
    }

    /// <summary>
    /// The point's timed events other than SCTE-35 cues (those are in the playlists and the MPD) that start within the
    /// fragment, as 'emsg' version 1 on the track's timescale with the outputs' 10 s lift: timed ID3 in the segment,
    /// for the main track only (video, or audio when there is none). Segments of low-latency parts carry none.
    /// </summary>
    public static byte[] EventBoxes(Point point, Track track, FragmentEntry entry)
    {
        var timescale = track.Description.Timescale;
        var main = track.Description.Kind == TrackKind.Video || !point.Tracks().Any(t => t.Description.Kind == TrackKind.Video);
        if (!main || entry.Parts is not null)
        {
            return [];
        }

        var from = Timescale.Rescale(entry.Time, timescale, TimeSpan.TicksPerSecond);
        var to = Timescale.Rescale(entry.End, timescale, TimeSpan.TicksPerSecond);
        var boxes = new List<byte>();
        foreach (var e in point.EventsStartingIn(from, to))
        {
            if (e.Scheme != TimedEvent.Scte35Scheme)
            {
                var duration = e.DurationTicks is { } d ? (uint)Math.Min(uint.MaxValue - 1, Timescale.Rescale(d, TimeSpan.TicksPerSecond, timescale)) : EmsgBox.UnknownDuration;
                var time = Timescale.Rescale(e.StartTicks, TimeSpan.TicksPerSecond, timescale) + (TimeOffsetSeconds * timescale);
                boxes.AddRange(new EmsgBox(1, e.Scheme, e.Value, (uint)timescale, time, duration, e.Id, e.Message).Write());
            }
        }

        return [.. boxes];
    }

    // 'emsg' goes after the segment's 'styp' and before its 'moof' (ISO/IEC 23009-1 5.10.3.3): data offsets stay as they are.
    private static byte[] WithEvents(byte[] segment, byte[] events)
    {
        if (events.Length == 0)
        {
            return segment;
        }

        var styp = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(segment);
        var output = new byte[segment.Length + events.Length];
        segment.AsSpan(0, styp).CopyTo(output);
        events.CopyTo(output, styp);
        segment.AsSpan(styp).CopyTo(output.AsSpan(styp + events.Length));
        return output;
    }

    /// <summary>
    /// Where the I-frame of an fMP4 segment ends: its boxes (of the first chunk, for a segment of parts) and first sample.
    /// Kept on the fragment: an I-frame playlist asks it of every fragment of its window at each version.
    /// </summary>
    public static long Fmp4KeyframeEnd(FragmentEntry entry)
    {
        if (entry.Fmp4KeyframeEnd is { } known)
        {
            return known;
        }

        var samples = entry.Samples;
        if (samples.Length == 0)
        {
            return 0;
        }

        var first = entry.Parts is [var part, ..] ? samples.AsSpan(0, Math.Clamp(part.Samples, 1, samples.Length)) : samples.AsSpan();
        long payload = 0;
        foreach (var s in first)
        {
            payload += s.Size;
        }

        var end = CmafFragmentWriter.GetLength(first) - payload + samples[0].Size;
        entry.Fmp4KeyframeEnd = end;
        return end;
    }

    // A writer holds only the parsed decoder configurations: kept on the video track for the audio it was made with.
    private static TsSegmentWriter TsWriter(Track video, Track? audio, bool timedId3)
    {
        var audioDescription = audio?.Description;
        if (video.TsWriter is { } kept && ReferenceEquals(kept.Audio, audioDescription) && kept.TimedId3 == timedId3)
        {
            return kept.Writer;
        }

        var writer = new TsSegmentWriter(video.Description.RequireAvc(), audioDescription?.RequireAac(), timedId3 ? _tsOptionsWithId3 : _tsOptions);
        video.TsWriter = new TsWriterFor(audioDescription, timedId3, writer);
        return writer;
    }

    /// <summary>
    /// Fragment <paramref name="sequence"/> of <paramref name="track"/> as a CMAF segment for the track's init segment. A
    /// fragment gathered from low-latency chunks is written as the CMAF chunks of its parts one after the other, so each
    /// part is a byte range of its segment and both are the same bytes whenever they are asked for.
    /// </summary>
    /// <param name="point">Whose timed events (ID3 and other non-SCTE-35 schemes) the segment carries as 'emsg'.</param>
    public static async Task<byte[]> Fmp4SegmentAsync(Point point, Track track, FragmentEntry entry, long sequence, CancellationToken cancellationToken)
    {
        using var input = await entry.RentAsync(cancellationToken).ConfigureAwait(false);
        var bytes = input.Array;
        var samples = entry.SamplesIn(bytes);
        if (entry.Parts is not { } parts)
        {
            // The same 10 s lift as TS: AAC priming puts the first audio decode time below zero, which 'tfdt' cannot hold.
            var baseTime = (samples.Length > 0 ? samples[0].DecodeTime : entry.Time) + (TimeOffsetSeconds * track.Description.Timescale);
            return WithEvents(CmafFragmentWriter.Write(bytes, samples, track.Description.Info.TrackId, (uint)(sequence + 1), baseTime), EventBoxes(point, track, entry));
        }

        var chunks = new byte[parts.Count][];
        var at = 0;
        for (var p = 0; p < parts.Count; p++)
        {
            var count = Math.Min(parts[p].Samples, samples.Length - at);
            chunks[p] = Chunk(track, bytes, samples.AsSpan(at, count), sequence, p);
            at += count;
        }

        return [.. chunks.SelectMany(c => c)];
    }

    /// <summary>Part <paramref name="part"/> of complete segment <paramref name="sequence"/>, from its fragment's samples; null past its parts.</summary>
    public static async Task<byte[]?> Fmp4PartAsync(Track track, FragmentEntry entry, long sequence, int part, CancellationToken cancellationToken)
    {
        if (entry.Parts is not { } parts || part >= parts.Count)
        {
            return null;
        }

        using var input = await entry.RentAsync(cancellationToken).ConfigureAwait(false);
        var bytes = input.Array;
        var samples = entry.SamplesIn(bytes);
        var at = parts.Take(part).Sum(p => p.Samples);
        var count = Math.Clamp(parts[part].Samples, 0, Math.Max(0, samples.Length - at));
        return Chunk(track, bytes, samples.AsSpan(Math.Min(at, samples.Length), count), sequence, part);
    }

    /// <summary>Part <paramref name="index"/> of the segment being built, from the chunk the encoder sent.</summary>
    public static byte[] Fmp4OpenPart(Track track, PartEntry part, long sequence, int index) => Chunk(track, part.Bytes, part.Samples, sequence, index);

    // One CMAF chunk of a low-latency segment: the first carries the segment's 'styp'; sequence numbers follow segment and part.
    private static byte[] Chunk(Track track, byte[] source, ReadOnlySpan<FragmentSample> samples, long sequence, int part)
    {
        var baseTime = (samples.Length > 0 ? samples[0].DecodeTime : 0) + (TimeOffsetSeconds * track.Description.Timescale);
        return CmafFragmentWriter.Write(source, samples, track.Description.Info.TrackId, unchecked(((uint)sequence + 1) * 64 + (uint)part), baseTime, withStyp: part == 0);
    }

    /// <summary>The single-track initialization segment, from the encoder's own 'moov'; null before any media.</summary>
    public static byte[]? InitSegment(Track track)
    {
        var moov = track.Last?.Archive.Header.Moov ?? default;
        return moov.IsEmpty ? null : InitSegmentWriter.Write(moov.Span, track.Description.Info);
    }
}
