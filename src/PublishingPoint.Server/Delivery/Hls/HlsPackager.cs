using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
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

    // Every output timestamp is moved 10 s up, as Apple's segmenters do, so decode times before presentation
    // time zero (B-frames, AAC priming) stay positive instead of wrapping the 33-bit clock or underflowing 'tfdt'.
    internal const long TimeOffsetSeconds = 10;
    private const long TsTimeOffset90k = TimeOffsetSeconds * Timescale.MpegTs;

    private static readonly ConditionalWeakTable<Track, StrongBox<long>> _decodeShifts = [];

    // A writer holds only the parsed decoder configurations: one per video track (and the audio it was made with).
    private static readonly ConditionalWeakTable<Track, TsWriterEntry> _tsWriters = [];

    /// <summary>
    /// Video fragment <paramref name="sequence"/> of <paramref name="video"/> and the audio samples of
    /// <paramref name="audio"/> whose decode time falls in the same interval, as one transport stream segment.
    /// </summary>
    /// <param name="number">The segment's media sequence number, which sets its continuity counters.</param>
    public static async Task<byte[]> TsSegmentAsync(Track video, Track? audio, FragmentEntry[] fragments, int sequence, long number, CancellationToken cancellationToken)
    {
        var entry = fragments[sequence];
        var videoTimescale = video.Description.Timescale;
        var samples = new List<FragmentSample>(64);
        var videoBytes = await HlsTimeline.ReadSamplesAsync(video, entry, samples, cancellationToken).ConfigureAwait(false);
        var shift = await DecodeShiftAsync(video, cancellationToken).ConfigureAwait(false);
        var videoSamples = new TsSample[samples.Count];
        for (var i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            var pts = TsTimeOffset90k + Timescale.To90k(s.PresentationTime, videoTimescale);
            var dts = TsTimeOffset90k + Timescale.To90k(s.DecodeTime - shift, videoTimescale);
            videoSamples[i] = new TsSample(Math.Min(dts, pts), pts, s.IsSync, videoBytes.AsMemory(s.DataOffset, s.Size));
        }

        var audioSamples = new List<TsSample>(128);
        if (audio is not null)
        {
            var audioTimescale = audio.Description.Timescale;
            var from = Timescale.Rescale(entry.Time, videoTimescale, audioTimescale);
            var to = Timescale.Rescale(HlsTimeline.End(fragments, sequence), videoTimescale, audioTimescale);
            foreach (var fragment in audio.SnapshotBetween(from, to))
            {
                samples.Clear();
                var bytes = await HlsTimeline.ReadSamplesAsync(audio, fragment, samples, cancellationToken).ConfigureAwait(false);
                foreach (var s in samples)
                {
                    if (s.DecodeTime >= from && s.DecodeTime < to)
                    {
                        var time = TsTimeOffset90k + Timescale.To90k(s.DecodeTime, audioTimescale);
                        audioSamples.Add(new TsSample(time, time, true, bytes.AsMemory(s.DataOffset, s.Size)));
                    }
                }
            }
        }

        return TsWriter(video, audio).WriteSegment(videoSamples, CollectionsMarshal.AsSpan(audioSamples), TsContinuityCounters.ForAlignedSegment(number));
    }

    private static TsSegmentWriter TsWriter(Track video, Track? audio)
    {
        if (_tsWriters.TryGetValue(video, out var known) && ReferenceEquals(known.Audio, audio))
        {
            return known.Writer;
        }

        var audioConfig = audio is null ? null : AudioSpecificConfig.Parse(audio.Description.Info.DecoderConfig);
        var writer = new TsSegmentWriter(AvcDecoderConfiguration.Parse(video.Description.Info.DecoderConfig), audioConfig, _tsOptions);
        _tsWriters.AddOrUpdate(video, new TsWriterEntry(audio, writer));
        return writer;
    }

    /// <summary>
    /// How far decode times must move back so no sample decodes after it is presented: a 'trun' v1 (as ffmpeg's
    /// ismv writes) has negative composition offsets. Taken once from the track's first fragment, so DTS stays
    /// continuous across segments produced independently.
    /// </summary>
    private static async ValueTask<long> DecodeShiftAsync(Track track, CancellationToken cancellationToken)
    {
        if (_decodeShifts.TryGetValue(track, out var known))
        {
            return known.Value;
        }

        var first = track.Snapshot().FirstOrDefault();
        long shift = 0;
        if (first is not null)
        {
            var samples = new List<FragmentSample>(64);
            await HlsTimeline.ReadSamplesAsync(track, first, samples, cancellationToken).ConfigureAwait(false);
            foreach (var sample in samples)
            {
                shift = Math.Max(shift, -(long)sample.CompositionOffset);
            }
        }

        return _decodeShifts.GetValue(track, _ => new StrongBox<long>(shift)).Value;
    }

    /// <summary>
    /// Fragment <paramref name="sequence"/> of <paramref name="track"/> as a CMAF segment for the track's init segment. A
    /// fragment gathered from low-latency chunks is written as the CMAF chunks of its parts one after the other, so each
    /// part is a byte range of its segment and both are the same bytes whenever they are asked for.
    /// </summary>
    public static async Task<byte[]> Fmp4SegmentAsync(Track track, FragmentEntry entry, long sequence, CancellationToken cancellationToken)
    {
        var samples = new List<FragmentSample>(128);
        var bytes = await HlsTimeline.ReadSamplesAsync(track, entry, samples, cancellationToken).ConfigureAwait(false);
        if (entry.Parts is not { } parts)
        {
            // The same 10 s lift as TS: AAC priming puts the first audio decode time below zero, which 'tfdt' cannot hold.
            var baseTime = (samples.Count > 0 ? samples[0].DecodeTime : entry.Time) + (TimeOffsetSeconds * track.Description.Timescale);
            return CmafFragmentWriter.Write(bytes, CollectionsMarshal.AsSpan(samples), track.Description.Info.TrackId, (uint)(sequence + 1), baseTime);
        }

        var chunks = new byte[parts.Count][];
        var at = 0;
        for (var p = 0; p < parts.Count; p++)
        {
            var count = Math.Min(parts[p].Samples, samples.Count - at);
            chunks[p] = Chunk(track, bytes, CollectionsMarshal.AsSpan(samples).Slice(at, count), sequence, p);
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

        var samples = new List<FragmentSample>(128);
        var bytes = await HlsTimeline.ReadSamplesAsync(track, entry, samples, cancellationToken).ConfigureAwait(false);
        var at = parts.Take(part).Sum(p => p.Samples);
        var count = Math.Clamp(parts[part].Samples, 0, Math.Max(0, samples.Count - at));
        return Chunk(track, bytes, CollectionsMarshal.AsSpan(samples).Slice(Math.Min(at, samples.Count), count), sequence, part);
    }

    /// <summary>Part <paramref name="index"/> of the segment being built, from the chunk the encoder sent.</summary>
    public static byte[] Fmp4OpenPart(Track track, PartEntry part, long sequence, int index)
    {
        var samples = new List<FragmentSample>(32);
        HlsTimeline.ReadSamples(track, part.Bytes, part.Time, part.Traf, samples);
        return Chunk(track, part.Bytes, CollectionsMarshal.AsSpan(samples), sequence, index);
    }

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

    private sealed record TsWriterEntry(Track? Audio, TsSegmentWriter Writer);
}
