using System.Buffers.Binary;
using PublishingPoint.Media.MpegTs;

// Shared by the Media and Server tests (linked into both projects): how segments are checked packet by packet.
namespace PublishingPoint.Tests.Shared;

/// <summary>A parsed transport packet, enough to check what the writer produced.</summary>
internal sealed record TsPacket(
    int Pid,
    bool PayloadUnitStart,
    int ContinuityCounter,
    int AdaptationLength,
    bool RandomAccess,
    long? PcrBase,
    byte[] Payload);

/// <summary>A reassembled PES packet.</summary>
internal sealed record TsPes(int StartIndex, int Pid, int StreamId, int PacketLength, long Pts, long? Dts, byte[] Payload, TsPacket FirstPacket);

/// <summary>
/// Test-side demuxer: walks 188-byte packets, checks sync bytes, PSI first, CRCs, CC continuity per PID,
/// and reassembles PES packets. Throws on the first violation so a test fails with the reason.
/// </summary>
internal sealed class TsPacketReader
{
    private readonly Dictionary<int, int> _lastCc = [];

    public List<TsPacket> Packets { get; } = [];
    public List<TsPes> Pes { get; } = [];
    public int PmtPid { get; private set; } = -1;
    public int PcrPid { get; private set; } = -1;
    public Dictionary<int, int> StreamTypes { get; } = [];

    /// <summary>Reads one segment (or a concatenation); CCs must continue from what was read before.</summary>
    public void Read(ReadOnlySpan<byte> ts)
    {
        if (ts.Length % TsConstants.PacketLength != 0)
        {
            throw new InvalidDataException($"Length {ts.Length} is not a multiple of 188.");
        }

        var pending = new Dictionary<int, List<(int Index, TsPacket Packet)>>();
        var start = Packets.Count;
        for (var offset = 0; offset < ts.Length; offset += TsConstants.PacketLength)
        {
            var packet = ParsePacket(ts.Slice(offset, TsConstants.PacketLength));
            Packets.Add(packet);
            CheckContinuity(packet);
            if (Packets.Count - start == 1 && packet.Pid != TsConstants.PatPid)
            {
                throw new InvalidDataException("A segment must start with the PAT.");
            }

            if (packet.Pid == TsConstants.PatPid)
            {
                ReadPat(packet);
            }
            else if (packet.Pid == PmtPid)
            {
                ReadPmt(packet);
            }
            else if (StreamTypes.ContainsKey(packet.Pid))
            {
                if (packet.PayloadUnitStart)
                {
                    Flush(pending, packet.Pid);
                    pending[packet.Pid] = [(Packets.Count - 1, packet)];
                }
                else if (pending.TryGetValue(packet.Pid, out var list))
                {
                    list.Add((Packets.Count - 1, packet));
                }
                else
                {
                    throw new InvalidDataException($"PID {packet.Pid:X} payload before a PES start.");
                }
            }
            else
            {
                throw new InvalidDataException($"Packet on unknown PID {packet.Pid:X} (PAT/PMT not seen first?).");
            }
        }

        foreach (var pid in pending.Keys.ToList())
        {
            Flush(pending, pid);
        }

        Pes.Sort((x, y) => x.StartIndex.CompareTo(y.StartIndex));
    }

    private static TsPacket ParsePacket(ReadOnlySpan<byte> p)
    {
        if (p[0] != TsConstants.SyncByte)
        {
            throw new InvalidDataException("Missing sync byte.");
        }

        var pid = ((p[1] & 0x1F) << 8) | p[2];
        var afc = (p[3] >> 4) & 0x3;
        if (afc == 0 || (p[1] & 0x80) != 0 || (p[3] & 0xC0) != 0)
        {
            throw new InvalidDataException("Reserved adaptation_field_control, error or scrambling bits set.");
        }

        var adaptationLength = 0;
        var rai = false;
        long? pcr = null;
        if ((afc & 0x2) != 0)
        {
            adaptationLength = 1 + p[4];
            if (adaptationLength > 1)
            {
                var flags = p[5];
                rai = (flags & 0x40) != 0;
                if ((flags & 0x10) != 0)
                {
                    pcr = ((long)BinaryPrimitives.ReadUInt32BigEndian(p[6..]) << 1) | (uint)(p[10] >> 7);
                }

                var stuffingStart = 2 + (pcr.HasValue ? 6 : 0);
                if (p.Slice(4 + stuffingStart, adaptationLength - stuffingStart).IndexOfAnyExcept((byte)0xFF) >= 0)
                {
                    throw new InvalidDataException("Adaptation field stuffing is not 0xFF.");
                }
            }
        }

        if ((afc & 0x1) == 0 || 4 + adaptationLength >= TsConstants.PacketLength)
        {
            throw new InvalidDataException("Packet without payload; this writer never emits those.");
        }

        return new TsPacket(pid, (p[1] & 0x40) != 0, p[3] & 0xF, adaptationLength, rai, pcr, p[(4 + adaptationLength)..].ToArray());
    }

    private void CheckContinuity(TsPacket packet)
    {
        if (_lastCc.TryGetValue(packet.Pid, out var last) && packet.ContinuityCounter != ((last + 1) & 0xF))
        {
            throw new InvalidDataException(
                $"CC discontinuity on PID {packet.Pid:X} at packet {Packets.Count - 1}: {last} then {packet.ContinuityCounter}.");
        }

        _lastCc[packet.Pid] = packet.ContinuityCounter;
    }

    private static ReadOnlySpan<byte> Section(TsPacket packet, int tableId)
    {
        var payload = packet.Payload.AsSpan();
        if (!packet.PayloadUnitStart || payload[0] != 0 || payload[1] != tableId)
        {
            throw new InvalidDataException($"Expected a table {tableId} section at the packet start.");
        }

        var section = payload[1..];
        var length = 3 + (BinaryPrimitives.ReadUInt16BigEndian(section[1..]) & 0x0FFF);
        var crc = BinaryPrimitives.ReadUInt32BigEndian(section[(length - 4)..]);
        if (Crc32Mpeg2.Compute(section[..(length - 4)]) != crc)
        {
            throw new InvalidDataException("Section CRC mismatch.");
        }

        if (payload[(1 + length)..].IndexOfAnyExcept((byte)0xFF) >= 0)
        {
            throw new InvalidDataException("PSI packet filler is not 0xFF.");
        }

        return section[..(length - 4)];
    }

    private void ReadPat(TsPacket packet)
    {
        var section = Section(packet, 0x00);
        PmtPid = BinaryPrimitives.ReadUInt16BigEndian(section[10..]) & 0x1FFF;
    }

    private void ReadPmt(TsPacket packet)
    {
        var section = Section(packet, 0x02);
        PcrPid = BinaryPrimitives.ReadUInt16BigEndian(section[8..]) & 0x1FFF;
        var programInfoLength = BinaryPrimitives.ReadUInt16BigEndian(section[10..]) & 0x0FFF;
        for (var i = 12 + programInfoLength; i < section.Length; i += 5 + (BinaryPrimitives.ReadUInt16BigEndian(section[(i + 3)..]) & 0x0FFF))
        {
            StreamTypes[BinaryPrimitives.ReadUInt16BigEndian(section[(i + 1)..]) & 0x1FFF] = section[i];
        }
    }

    private void Flush(Dictionary<int, List<(int Index, TsPacket Packet)>> pending, int pid)
    {
        if (!pending.Remove(pid, out var packets))
        {
            return;
        }

        var data = packets.SelectMany(p => p.Packet.Payload).ToArray();
        if (data[0] != 0 || data[1] != 0 || data[2] != 1)
        {
            throw new InvalidDataException("PES start code missing.");
        }

        var packetLength = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(4));
        if (packetLength != 0 && packetLength != data.Length - 6)
        {
            throw new InvalidDataException($"PES_packet_length {packetLength} but {data.Length - 6} bytes follow.");
        }

        var flags = data[7] >> 6;
        var headerLength = 9 + data[8];
        long pts = ReadTimestamp(data.AsSpan(9), flags == 3 ? 0b0011 : 0b0010);
        long? dts = flags == 3 ? ReadTimestamp(data.AsSpan(14), 0b0001) : null;
        Pes.Add(new TsPes(packets[0].Index, pid, data[3], packetLength, pts, dts, data[headerLength..], packets[0].Packet));
    }

    private static long ReadTimestamp(ReadOnlySpan<byte> b, int prefix)
    {
        if (b[0] >> 4 != prefix || (b[0] & 1) == 0 || (b[2] & 1) == 0 || (b[4] & 1) == 0)
        {
            throw new InvalidDataException("Bad PTS/DTS prefix or marker bits.");
        }

        return ((long)(b[0] & 0x0E) << 29) | ((long)b[1] << 22) | ((long)(b[2] >> 1) << 15) | ((long)b[3] << 7) | ((long)b[4] >> 1);
    }
}
