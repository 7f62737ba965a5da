using System.Runtime.InteropServices;

namespace PublishingPoint.Server.Archive;

/// <summary>
/// Durability on disk: a new or renamed file survives a crash only once its directory entry is on disk too, which on
/// Linux takes an fsync of the directory (rename and create are directory writes).
/// </summary>
internal static partial class Durable
{
    /// <summary>Write to a temporary name, fsync, rename, fsync the folder: a crash leaves the old file or the new one.</summary>
    public static void WriteFile(string path, ReadOnlySpan<byte> bytes)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(path)!);
    }

    /// <summary>fsync of a directory (Linux); elsewhere a no-op, as those systems have no such call.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, 0 /* O_RDONLY */ | 0x10000 /* O_DIRECTORY */ | 0x80000 /* O_CLOEXEC */);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of folder {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Creates a folder (and its parents) and syncs each parent it added an entry to.</summary>
    public static void CreateDirectory(string directory)
    {
        var missing = new Stack<string>();
        for (var dir = Path.GetFullPath(directory); !Directory.Exists(dir); dir = Path.GetDirectoryName(dir)!)
        {
            missing.Push(dir);
        }

        Directory.CreateDirectory(directory);
        while (missing.TryPop(out var created))
        {
            SyncDirectory(Path.GetDirectoryName(created)!);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
