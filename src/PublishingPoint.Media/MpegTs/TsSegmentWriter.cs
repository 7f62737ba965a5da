using System.Buffers;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.Codecs.H264;
using PublishingPoint.Media.Timing;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Writes one HLS media segment as an MPEG-2 transport stream: PAT, PMT, then video and audio PES packets
/// interleaved by DTS. Video PES: one access unit in Annex B with an AUD, SPS/PPS before keyframes, PCR and
/// random_access_indicator in the first packet's adaptation field. Audio PES: consecutive AAC frames as ADTS.
/// The output is exactly <see cref="TsPacketCounts.ByteLength"/> of <see cref="CountPackets"/>; a writer instance
/// holds only configuration and may be shared between threads.
/// </summary>
public sealed class TsSegmentWriter
{
    private readonly AvcDecoderConfiguration _video;
    private readonly AudioSpecificConfig? _audio;
    private readonly AdtsHeaderTemplate _adts;
    private readonly TsMuxerOptions _options;
    private readonly long _audioFrameDuration90k;

    public TsSegmentWriter(AvcDecoderConfiguration video, AudioSpecificConfig? audio, TsMuxerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(video);
        _video = video;
        _audio = audio;
        _options = options ?? TsMuxerOptions.Default;
        if (audio is not null)
        {
            _adts = Adts.Prepare(audio);
            _audioFrameDuration90k = audio.SamplesPerFrame * Timescale.MpegTs / audio.SamplingFrequency;
        }
    }

    /// <summary>Packets per PID the segment takes, computed without writing it.</summary>
    public TsPacketCounts CountPackets(ReadOnlySpan<TsSample> video, ReadOnlySpan<TsSample> audio, ReadOnlySpan<TsSample> metadata = default)
    {
        var plans = ArrayPool<PesPlan>.Shared.Rent(video.Length + audio.Length + metadata.Length);
        try
        {
            return Plan(video, audio, metadata, plans, out _);
        }
        finally
        {
            ArrayPool<PesPlan>.Shared.Return(plans);
        }
    }

    /// <summary>
    /// Bytes from the segment's start to the end of its first video PES (PAT, PMT and any audio PES that precedes it
    /// and timed metadata included): the byte range an I-frame playlist names for the segment's first frame. 0 without video.
    /// </summary>
    public int KeyframeEnd(ReadOnlySpan<TsSample> video, ReadOnlySpan<TsSample> audio, ReadOnlySpan<TsSample> metadata = default)
    {
        if (video.IsEmpty)
        {
            return 0;
        }

        var plans = ArrayPool<PesPlan>.Shared.Rent(video.Length + audio.Length + metadata.Length);
        try
        {
            Plan(video, audio, metadata, plans, out var layout);
            var packets = 2 + plans[0].Packets;
            var end = layout.VideoPesCount + layout.AudioPesCount + layout.MetadataPesCount;
            for (var p = layout.VideoPesCount; p < end; p++)
            {
                if (plans[p].Dts < plans[0].Dts)
                {
                    packets += plans[p].Packets; // written before the first video PES (interleaving by DTS, video first on a tie)
                }
            }

            return packets * TsConstants.PacketLength;
        }
        finally
        {
            ArrayPool<PesPlan>.Shared.Return(plans);
        }
    }

    /// <summary>Writes the segment and advances <paramref name="counters"/> past it; returns the packet counts.</summary>
    public TsPacketCounts WriteSegment(
        ReadOnlySpan<TsSample> video,
        ReadOnlySpan<TsSample> audio,
        TsContinuityCounters counters,
        IBufferWriter<byte> output,
        ReadOnlySpan<TsSample> metadata = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        var plans = ArrayPool<PesPlan>.Shared.Rent(video.Length + audio.Length + metadata.Length);
        try
        {
            var counts = Plan(video, audio, metadata, plans, out var layout);
            var destination = output.GetSpan(counts.ByteLength)[..counts.ByteLength];
            WritePlanned(video, audio, metadata, plans, layout, counters, destination);
            output.Advance(counts.ByteLength);
            return counts;
        }
        finally
        {
            ArrayPool<PesPlan>.Shared.Return(plans);
        }
    }

    /// <summary>
    /// The segment in a new array of exactly its length (planned once, unlike <see cref="CountPackets"/> then a write);
    /// advances <paramref name="counters"/> past it.
    /// </summary>
    /// <param name="metadata">Timed ID3 tags (PTS only), for a writer made with <see cref="TsMuxerOptions.TimedId3"/>.</param>
    public byte[] WriteSegment(ReadOnlySpan<TsSample> video, ReadOnlySpan<TsSample> audio, TsContinuityCounters counters, ReadOnlySpan<TsSample> metadata = default)
    {
        var plans = ArrayPool<PesPlan>.Shared.Rent(video.Length + audio.Length + metadata.Length);
        try
        {
            var counts = Plan(video, audio, metadata, plans, out var layout);
            var output = GC.AllocateUninitializedArray<byte>(counts.ByteLength);
            WritePlanned(video, audio, metadata, plans, layout, counters, output);
            return output;
        }
        finally
        {
            ArrayPool<PesPlan>.Shared.Return(plans);
        }
    }

    /// <summary>Writes the segment into <paramref name="destination"/>; returns the packet counts (bytes = ByteLength).</summary>
    public TsPacketCounts WriteSegment(
        ReadOnlySpan<TsSample> video,
        ReadOnlySpan<TsSample> audio,
        TsContinuityCounters counters,
        Span<byte> destination,
        ReadOnlySpan<TsSample> metadata = default)
    {
        var plans = ArrayPool<PesPlan>.Shared.Rent(video.Length + audio.Length + metadata.Length);
        try
        {
            var counts = Plan(video, audio, metadata, plans, out var layout);
            if (destination.Length < counts.ByteLength)
            {
                throw new ArgumentException($"The segment needs {counts.ByteLength} bytes.", nameof(destination));
            }

            WritePlanned(video, audio, metadata, plans, layout, counters, destination[..counts.ByteLength]);
            return counts;
        }
        finally
        {
            ArrayPool<PesPlan>.Shared.Return(plans);
        }
    }

    // Video PES go to plans[0..videoPesCount), audio PES after them, then one PES per metadata tag, each in decode order.
    private TsPacketCounts Plan(
        ReadOnlySpan<TsSample> video,
        ReadOnlySpan<TsSample> audio,
        ReadOnlySpan<TsSample> metadata,
        PesPlan[] plans,
        out Layout layout)
    {
        if (!audio.IsEmpty && _audio is null)
        {
            throw new ArgumentException("Audio samples were given but the writer has no audio configuration.", nameof(audio));
        }

        if (!metadata.IsEmpty && !_options.TimedId3)
        {
            throw new ArgumentException("Timed metadata was given but the writer does not declare it (TsMuxerOptions.TimedId3).", nameof(metadata));
        }

        var maxPesLength = 0;
        var videoPesCount = video.Length;
        var videoPackets = PlanVideo(video, plans, ref maxPesLength);
        var audioPackets = PlanAudio(audio, plans.AsSpan(videoPesCount), ref maxPesLength, out var audioPesCount);
        var metadataPackets = PlanMetadata(metadata, plans.AsSpan(videoPesCount + audioPesCount), ref maxPesLength);
        if (_options.AlignContinuityCounters)
        {
            videoPackets = PadToSixteen(plans.AsSpan(0, videoPesCount), videoPackets);
            audioPackets = PadToSixteen(plans.AsSpan(videoPesCount, audioPesCount), audioPackets);
            metadataPackets = PadToSixteen(plans.AsSpan(videoPesCount + audioPesCount, metadata.Length), metadataPackets);
        }

        layout = new Layout(videoPesCount, audioPesCount, metadata.Length, maxPesLength);
        return new TsPacketCounts(1, 1, videoPackets, audioPackets, metadataPackets);
    }

    private int PlanVideo(ReadOnlySpan<TsSample> video, Span<PesPlan> plans, ref int maxPesLength)
    {
        var packets = 0;
        for (var i = 0; i < video.Length; i++)
        {
            ref var plan = ref plans[i];
            var sample = video[i];
            plan = new PesPlan
            {
                FirstSample = i,
                SampleCount = 1,
                Dts = sample.Dts90k,
                Pts = sample.Pts90k,
                IsKeyframe = sample.IsKeyframe,
                WithDts = ((sample.Pts90k ^ sample.Dts90k) & TsConstants.TimestampMask) != 0,
                PayloadLength = AnnexB.GetLength(sample.Data.Span, _video.NalLengthSize, VideoOptions(sample)),
                FirstAdaptationLength = TsPacketWriter.PcrAdaptationLength,
            };
            plan.Packets = plan.MinPackets;
            packets += plan.Packets;
            maxPesLength = Math.Max(maxPesLength, plan.TotalLength);
        }

        return packets;
    }

    // Consecutive AAC frames share a PES (see ContinuesAudioPes).
    private int PlanAudio(ReadOnlySpan<TsSample> audio, Span<PesPlan> plans, ref int maxPesLength, out int pesCount)
    {
        var packets = 0;
        pesCount = 0;
        for (var i = 0; i < audio.Length;)
        {
            ref var plan = ref plans[pesCount++];
            var first = audio[i];
            plan = new PesPlan
            {
                FirstSample = i,
                Dts = first.Pts90k,
                Pts = first.Pts90k,
                IsKeyframe = true,
                FirstAdaptationLength = TsPacketWriter.FlagsOnlyAdaptationLength,
            };
            do
            {
                plan.PayloadLength += Adts.HeaderLength + audio[i].Data.Length;
                plan.SampleCount++;
                i++;
            }
            while (i < audio.Length && ContinuesAudioPes(audio[i], audio[i - 1], first, plan.PayloadLength));

            plan.Packets = plan.MinPackets;
            packets += plan.Packets;
            maxPesLength = Math.Max(maxPesLength, plan.TotalLength);
        }

        return packets;
    }

    // One PES per timed metadata tag.
    private static int PlanMetadata(ReadOnlySpan<TsSample> metadata, Span<PesPlan> plans, ref int maxPesLength)
    {
        const int MaxMetadataPayload = ushort.MaxValue - PesHeader.LengthWithPts;
        var packets = 0;
        for (var i = 0; i < metadata.Length; i++)
        {
            if (metadata[i].Data.Length > MaxMetadataPayload)
            {
                throw new ArgumentException($"A timed metadata tag holds at most {MaxMetadataPayload} bytes.", nameof(metadata));
            }

            ref var plan = ref plans[i];
            plan = new PesPlan
            {
                FirstSample = i,
                SampleCount = 1,
                Dts = metadata[i].Pts90k,
                Pts = metadata[i].Pts90k,
                PayloadLength = metadata[i].Data.Length,
            };
            plan.Packets = plan.MinPackets;
            packets += plan.Packets;
            maxPesLength = Math.Max(maxPesLength, plan.TotalLength);
        }

        return packets;
    }

    private bool ContinuesAudioPes(in TsSample next, in TsSample previous, in TsSample first, int payloadLength)
    {
        const int MaxAudioPesPayload = ushort.MaxValue - PesHeader.LengthWithPts;
        var contiguous = Math.Abs(next.Pts90k - previous.Pts90k - _audioFrameDuration90k) <= 1;
        var span = next.Pts90k - first.Pts90k + _audioFrameDuration90k;
        return contiguous
            && span <= _options.MaxAudioPesDuration90k
            && payloadLength + Adts.HeaderLength + next.Data.Length <= MaxAudioPesPayload;
    }

    // Spreads PES over extra packets, last PES first, until the PID's packet count is a multiple of 16.
    private static int PadToSixteen(Span<PesPlan> plans, int packets)
    {
        var missing = (16 - (packets & 0xF)) & 0xF;
        for (var i = plans.Length - 1; i >= 0 && missing > 0; i--)
        {
            var extra = Math.Min(missing, plans[i].MaxPackets - plans[i].Packets);
            plans[i].Packets += extra;
            missing -= extra;
        }

        if (missing > 0)
        {
            throw new InvalidOperationException("Too little payload to align continuity counters to 16 packets.");
        }

        return (packets + 15) & ~15;
    }

    private AnnexBOptions VideoOptions(in TsSample sample) =>
        new(InsertAud: true, ParameterSets: _video, IsKeyframe: sample.IsKeyframe);

    private void WritePlanned(
        ReadOnlySpan<TsSample> video,
        ReadOnlySpan<TsSample> audio,
        ReadOnlySpan<TsSample> metadata,
        PesPlan[] plans,
        Layout layout,
        TsContinuityCounters counters,
        Span<byte> destination)
    {
        PsiWriter.WritePat(destination, counters.Pat);
        PsiWriter.WritePmt(destination[TsConstants.PacketLength..], counters.Pmt, _audio is not null, _options.TimedId3);
        counters.Pat = (counters.Pat + 1) & 0xF;
        counters.Pmt = (counters.Pmt + 1) & 0xF;
        var offset = 2 * TsConstants.PacketLength;

        var scratch = ArrayPool<byte>.Shared.Rent(Math.Max(layout.MaxPesLength, 1));
        try
        {
            var videoPesCount = layout.VideoPesCount;
            var audioEnd = videoPesCount + layout.AudioPesCount;
            var metadataEnd = audioEnd + layout.MetadataPesCount;
            var v = 0;
            var a = videoPesCount;
            var m = audioEnd;

            while (v < videoPesCount || a < audioEnd || m < metadataEnd)
            {
                // Interleave by DTS; on a tie video goes first so its PCR leads, then audio, then metadata.
                var takeMetadata = m < metadataEnd
                    && (v >= videoPesCount || plans[m].Dts < plans[v].Dts)
                    && (a >= audioEnd || plans[m].Dts < plans[a].Dts);
                var takeVideo = !takeMetadata && (a >= audioEnd || (v < videoPesCount && plans[v].Dts <= plans[a].Dts));
                if (takeMetadata)
                {
                    ref readonly var plan = ref plans[m++];
                    var sample = metadata[plan.FirstSample].Data.Span;
                    var header = PesHeader.Write(scratch, TsConstants.PrivateStream1Id, plan.PayloadLength, plan.Pts, plan.Dts, withDts: false);
                    sample.CopyTo(scratch.AsSpan(header));
                    var cc = counters.Metadata;
                    offset = Packetize(destination, offset, TsConstants.MetadataPid, ref cc, scratch.AsSpan(0, header + sample.Length), plan, pcrBase: -1);
                    counters.Metadata = cc;
                }
                else if (takeVideo)
                {
                    ref readonly var plan = ref plans[v++];
                    var pes = BuildVideoPes(video[plan.FirstSample], plan, scratch);
                    var cc = counters.Video;
                    offset = Packetize(destination, offset, TsConstants.VideoPid, ref cc, pes, plan, PcrFor(plan.Dts));
                    counters.Video = cc;
                }
                else
                {
                    ref readonly var plan = ref plans[a++];
                    var pes = BuildAudioPes(audio.Slice(plan.FirstSample, plan.SampleCount), plan, scratch);
                    var cc = counters.Audio;
                    offset = Packetize(destination, offset, TsConstants.AudioPid, ref cc, pes, plan, pcrBase: -1);
                    counters.Audio = cc;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        if (offset != destination.Length)
        {
            throw new InvalidOperationException($"Segment layout mismatch: wrote {offset} of {destination.Length} bytes.");
        }
    }

    private long PcrFor(long dts)
    {
        var offset = _options.PcrOffset90k;
        return dts >= 0 ? Math.Max(dts - offset, 0) : (dts - offset) & TsConstants.TimestampMask;
    }

    private ReadOnlySpan<byte> BuildVideoPes(in TsSample sample, in PesPlan plan, byte[] scratch)
    {
        var header = PesHeader.Write(scratch, TsConstants.VideoStreamId, plan.PayloadLength, plan.Pts, plan.Dts, plan.WithDts);
        var written = AnnexB.Write(sample.Data.Span, _video.NalLengthSize, VideoOptions(sample), scratch.AsSpan(header));
        return scratch.AsSpan(0, header + written);
    }

    private ReadOnlySpan<byte> BuildAudioPes(ReadOnlySpan<TsSample> frames, in PesPlan plan, byte[] scratch)
    {
        var offset = PesHeader.Write(scratch, TsConstants.AudioStreamId, plan.PayloadLength, plan.Pts, plan.Dts, withDts: false);
        foreach (var frame in frames)
        {
            Adts.WriteHeader(scratch.AsSpan(offset), _adts, frame.Data.Length);
            frame.Data.Span.CopyTo(scratch.AsSpan(offset + Adts.HeaderLength));
            offset += Adts.HeaderLength + frame.Data.Length;
        }

        return scratch.AsSpan(0, offset);
    }

    // Greedy split that leaves at least one byte for each remaining packet, so padded PES still fill every packet.
    private static int Packetize(
        Span<byte> destination,
        int offset,
        int pid,
        ref int continuityCounter,
        ReadOnlySpan<byte> pes,
        in PesPlan plan,
        long pcrBase)
    {
        var remaining = pes;
        for (var packet = 0; packet < plan.Packets; packet++)
        {
            var first = packet == 0;
            var capacity = TsConstants.MaxPayload - (first ? plan.FirstAdaptationLength : 0);
            var take = Math.Min(capacity, remaining.Length - (plan.Packets - packet - 1));
            TsPacketWriter.WritePacket(
                destination.Slice(offset, TsConstants.PacketLength),
                pid,
                payloadUnitStart: first,
                continuityCounter,
                remaining[..take],
                first ? pcrBase : -1,
                first && plan.IsKeyframe);
            continuityCounter = (continuityCounter + 1) & 0xF;
            remaining = remaining[take..];
            offset += TsConstants.PacketLength;
        }

        return offset;
    }

    private readonly record struct Layout(int VideoPesCount, int AudioPesCount, int MetadataPesCount, int MaxPesLength);
}
