using System.Buffers.Binary;

namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Incremental MPEG-2 transport stream demuxer (ISO/IEC 13818-1) for one program with H.264 and AAC (ADTS).
/// Feed it chunks of any size with <see cref="Push"/>, then <see cref="Flush"/> at the end. It reads the PAT, the
/// PMT of the first program, and takes the first stream_type 0x1B (H.264) and first 0x0F (AAC ADTS) elementary
/// streams; every other PID is ignored. It copes with damaged input: it regains packet sync by looking for three
/// sync bytes 188 apart, drops the PES a continuity_counter gap cut into (video then waits for an IDR), starts
/// cleanly mid-stream, and unwraps PTS/DTS onto a 64-bit timeline (see <see cref="TsTimeline"/>).
/// </summary>
public sealed class TsDemuxer
{
    private const int PacketLength = TsConstants.PacketLength;
    private const int SyncRun = 3;
    private const int PidCount = 0x2000;
    private const byte NoCounter = 0xFF;
    private const byte StreamTypeScte35 = 0x86;

    private readonly ITsDemuxerSink _sink;
    private readonly TsTimeline _timeline = new();
    private readonly byte[] _lastCounter = new byte[PidCount];
    private readonly PsiSectionAssembler _pat = new();
    private readonly PsiSectionAssembler _pmt = new();
    private readonly PsiSectionAssembler _splices = new();
    private readonly PsiSectionHandler _onSplice;
    private int _splicePid = -1;
    private readonly PesAssembler _videoPes = new();
    private readonly PesAssembler _audioPes = new();
    private readonly AvcPesReader _video;
    private readonly AdtsPesReader _audio;
    private readonly PsiSectionHandler _onPat;
    private readonly PsiSectionHandler _onPmt;
    private byte[] _pending = new byte[64 * 1024];
    private int _pendingCount;
    private bool _inSync;
    private int _programNumber = -1;
    private int _pmtPid = -1;
    private int _videoPid = -1;
    private int _audioPid = -1;

    public TsDemuxer(ITsDemuxerSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _video = new AvcPesReader(sink, _timeline);
        _audio = new AdtsPesReader(sink, _timeline);
        _onPat = ReadPat;
        _onPmt = ReadPmt;
        _onSplice = ReadSplice;
        Array.Fill(_lastCounter, NoCounter);
    }

    /// <summary>Transport packets processed.</summary>
    public long Packets { get; private set; }

    /// <summary>Times packet sync was lost (a byte other than 0x47 where a packet should start).</summary>
    public int SyncLosses { get; private set; }

    /// <summary>continuity_counter gaps on the PIDs in use (without discontinuity_indicator).</summary>
    public int ContinuityErrors { get; private set; }

    /// <summary>PES packets dropped because a packet was lost or they were cut short.</summary>
    public int DroppedPes => _videoPes.Dropped + _audioPes.Dropped;

    /// <summary>Bytes of the PES buffers and of the AVC output (they grow with the largest PES and stay).</summary>
    public long BufferCapacity => (long)_videoPes.Capacity + _audioPes.Capacity + _video.Capacity;

    /// <summary>Access units held back: before the first IDR with SPS/PPS, after a loss, without a PTS.</summary>
    public int DroppedVideoUnits => _video.Dropped;

    public int VideoUnits => _video.Delivered;

    public int AudioFrames => _audio.Delivered;

    /// <summary>Timestamp jumps re-based onto the continuous timeline.</summary>
    public int TimestampDiscontinuities => _timeline.Discontinuities;

    /// <summary>The latest PTS/DTS read, unwrapped (90 kHz); null before the first.</summary>
    public long? TimelineHighest => _timeline.Highest;

    /// <summary>Continues the timeline of an earlier input of the same stream (see <see cref="TsTimeline.Continue"/>).</summary>
    public void ContinueTimeline(long last90k) => _timeline.Continue(last90k);

    public int VideoPid => _videoPid;

    public int AudioPid => _audioPid;

    public void Push(ReadOnlySpan<byte> data)
    {
        if (_pendingCount + data.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingCount + data.Length));
        }

        data.CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += data.Length;
        Process(final: false);
    }

    /// <summary>End of input: processes what is buffered and delivers the PES packets still open.</summary>
    public void Flush()
    {
        Process(final: true);
        _pendingCount = 0;
        var video = _videoPes.Finish();
        if (!video.IsEmpty)
        {
            _video.Read(video);
        }

        var audio = _audioPes.Finish();
        if (!audio.IsEmpty)
        {
            _audio.Read(audio);
        }
    }

    private void Process(bool final)
    {
        var buffer = _pending.AsSpan(0, _pendingCount);
        var at = 0;
        while (true)
        {
            if (!_inSync)
            {
                var found = FindSync(buffer, at, final);
                if (found < 0)
                {
                    // Keep a tail that may hold the start of a sync run.
                    at = final ? buffer.Length : Math.Max(at, buffer.Length - ((SyncRun - 1) * PacketLength));
                    break;
                }

                at = found;
                _inSync = true;
            }

            if (buffer.Length - at < PacketLength)
            {
                break;
            }

            if (buffer[at] != TsConstants.SyncByte)
            {
                SyncLosses++;
                _inSync = false;
                continue;
            }

            // A packet counts only when the next one starts where it should: bytes spliced into it are not read.
            if (at + PacketLength < buffer.Length)
            {
                if (buffer[at + PacketLength] != TsConstants.SyncByte)
                {
                    SyncLosses++;
                    _inSync = false;
                    at++;
                    continue;
                }
            }
            else if (!final)
            {
                break;
            }

            ReadPacket(buffer.Slice(at, PacketLength));
            at += PacketLength;
        }

        buffer[at..].CopyTo(_pending);
        _pendingCount = buffer.Length - at;
    }

    private static int FindSync(ReadOnlySpan<byte> buffer, int from, bool final)
    {
        for (var i = from; i < buffer.Length; i++)
        {
            if (buffer[i] != TsConstants.SyncByte)
            {
                continue;
            }

            var run = 1;
            while (run < SyncRun && i + (run * PacketLength) < buffer.Length && buffer[i + (run * PacketLength)] == TsConstants.SyncByte)
            {
                run++;
            }

            if (run == SyncRun || (final && i + (run * PacketLength) >= buffer.Length))
            {
                return i;
            }

            if (i + ((SyncRun - 1) * PacketLength) >= buffer.Length && !final)
            {
                return -1; // cannot tell yet
            }
        }

        return -1;
    }

    // 2.4.3.2 transport packet: sync_byte, transport_error_indicator, payload_unit_start_indicator,
    // transport_priority, PID(13), transport_scrambling_control(2), adaptation_field_control(2), continuity_counter(4)
    private void ReadPacket(ReadOnlySpan<byte> packet)
    {
        Packets++;
        var pid = ((packet[1] & 0x1F) << 8) | packet[2];
        if (pid != TsConstants.PatPid && pid != _pmtPid && pid != _videoPid && pid != _audioPid && pid != _splicePid)
        {
            return;
        }

        var transportError = (packet[1] & 0x80) != 0;
        var unitStart = (packet[1] & 0x40) != 0;
        var scrambled = (packet[3] & 0xC0) != 0;
        var adaptationControl = (packet[3] >> 4) & 0x3;
        var counter = (byte)(packet[3] & 0x0F);

        var payloadStart = TsConstants.HeaderLength;
        var discontinuity = false;
        if ((adaptationControl & 0x2) != 0)
        {
            // 2.4.3.4 adaptation_field_length, then discontinuity_indicator as the first flag
            var adaptationLength = packet[4];
            if (adaptationLength > PacketLength - 5)
            {
                transportError = true;
            }
            else
            {
                discontinuity = adaptationLength > 0 && (packet[5] & 0x80) != 0;
                payloadStart = 5 + adaptationLength;
            }
        }

        var hasPayload = (adaptationControl & 0x1) != 0 && payloadStart < PacketLength;
        var damaged = transportError || scrambled;
        var lost = Continuity(pid, counter, hasPayload, damaged, discontinuity);
        if (lost is null)
        {
            return; // 2.4.3.3: a duplicate packet, sent once more
        }

        if (lost.Value)
        {
            Interrupt(pid);
        }

        if (hasPayload && !damaged)
        {
            Dispatch(pid, packet[payloadStart..], unitStart, lost.Value);
        }
    }

    /// <summary>Whether data was lost before this packet of <paramref name="pid"/>; null for a duplicate to drop.</summary>
    private bool? Continuity(int pid, byte counter, bool hasPayload, bool damaged, bool discontinuity)
    {
        if (damaged)
        {
            _lastCounter[pid] = NoCounter;
            return true;
        }

        if (!hasPayload)
        {
            return false;
        }

        var last = _lastCounter[pid];
        var lost = false;
        if (last != NoCounter && !discontinuity)
        {
            if (counter == last)
            {
                return null;
            }

            if (counter != ((last + 1) & 0xF))
            {
                ContinuityErrors++;
                lost = true;
            }
        }

        _lastCounter[pid] = counter;
        return lost;
    }

    private void Dispatch(int pid, ReadOnlySpan<byte> payload, bool unitStart, bool lost)
    {
        if (pid == TsConstants.PatPid)
        {
            _pat.Push(payload, unitStart, lost, _onPat);
        }
        else if (pid == _pmtPid)
        {
            _pmt.Push(payload, unitStart, lost, _onPmt);
        }
        else if (pid == _videoPid)
        {
            PushPes(_videoPes, payload, unitStart, video: true);
        }
        else if (pid == _audioPid)
        {
            PushPes(_audioPes, payload, unitStart, video: false);
        }
        else if (pid == _splicePid)
        {
            _splices.Push(payload, unitStart, lost, _onSplice);
        }
    }

    // ANSI/SCTE 35: a splice_info_section, handed on with its splice time placed on the program's timeline.
    private void ReadSplice(ReadOnlySpan<byte> section)
    {
        if (section.Length > 0 && section[0] == 0xFC)
        {
            _sink.OnSpliceInfo(section, Scte35.SpliceInfo.TrySpliceTime(section, out var raw) ? _timeline.Place(raw) : null);
        }
    }

    private void Interrupt(int pid)
    {
        if (pid == _videoPid)
        {
            _videoPes.Drop();
            _video.Interrupt();
        }
        else if (pid == _audioPid)
        {
            _audioPes.Drop();
            _audio.Interrupt();
        }
    }

    private void PushPes(PesAssembler assembler, ReadOnlySpan<byte> payload, bool unitStart, bool video)
    {
        if (unitStart)
        {
            var previous = assembler.Finish();
            if (!previous.IsEmpty)
            {
                Deliver(previous, video);
            }

            assembler.Start(payload);
        }
        else
        {
            assembler.Continue(payload);
        }

        if (assembler.TryCompleteBounded(out var pes))
        {
            Deliver(pes, video);
        }
    }

    private void Deliver(ReadOnlySpan<byte> pes, bool video)
    {
        if (video)
        {
            _video.Read(pes);
        }
        else
        {
            _audio.Read(pes);
        }
    }

    // 2.4.4.3 program_association_section: header(8) { program_number(16) reserved(3) PID(13) } CRC_32
    private void ReadPat(ReadOnlySpan<byte> section)
    {
        if (section[0] != 0x00 || (section[5] & 0x01) == 0)
        {
            return;
        }

        for (var i = 8; i + 4 <= section.Length - 4; i += 4)
        {
            var program = BinaryPrimitives.ReadUInt16BigEndian(section[i..]);
            if (program == 0)
            {
                continue; // network_PID
            }

            var pid = BinaryPrimitives.ReadUInt16BigEndian(section[(i + 2)..]) & 0x1FFF;
            if (pid != _pmtPid)
            {
                _pmtPid = pid;
                _programNumber = program;
                _pmt.Reset();
                _lastCounter[pid] = NoCounter;
            }

            return;
        }
    }

    // 2.4.4.8 TS_program_map_section: header(8) reserved PCR_PID(13) reserved program_info_length(12) descriptors
    // { stream_type(8) reserved elementary_PID(13) reserved ES_info_length(12) descriptors } CRC_32
    private void ReadPmt(ReadOnlySpan<byte> section)
    {
        if (section[0] != 0x02 || (section[5] & 0x01) == 0 || section.Length < 16
            || BinaryPrimitives.ReadUInt16BigEndian(section[3..]) != _programNumber)
        {
            return;
        }

        var end = section.Length - 4;
        var i = 12 + (BinaryPrimitives.ReadUInt16BigEndian(section[10..]) & 0x0FFF);
        int video = -1, audio = -1, splices = -1;
        while (i + 5 <= end)
        {
            var streamType = section[i];
            var pid = BinaryPrimitives.ReadUInt16BigEndian(section[(i + 1)..]) & 0x1FFF;
            if (streamType == TsConstants.StreamTypeH264 && video < 0)
            {
                video = pid;
            }
            else if (streamType == TsConstants.StreamTypeAdtsAac && audio < 0)
            {
                audio = pid;
            }
            else if (streamType == StreamTypeScte35 && splices < 0)
            {
                splices = pid;
            }

            i += 5 + (BinaryPrimitives.ReadUInt16BigEndian(section[(i + 3)..]) & 0x0FFF);
        }

        if (splices != _splicePid)
        {
            _splicePid = splices;
            _splices.Reset();
        }

        if (video == _videoPid && audio == _audioPid)
        {
            return;
        }

        if (video != _videoPid)
        {
            Interrupt(_videoPid);
            _videoPid = video;
        }

        if (audio != _audioPid)
        {
            Interrupt(_audioPid);
            _audioPid = audio;
        }

        _sink.OnProgram(video >= 0, audio >= 0);
    }
}
