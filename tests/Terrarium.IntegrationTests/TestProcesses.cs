using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Terrarium.IntegrationTests;

/// <summary>Facts about this machine's processes and ports that tests check.</summary>
public static class TestProcesses
{
    /// <summary>Whether the process has exited (or never existed).</summary>
    public static bool HasExited(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    /// <summary>Whether something accepts connections on the loopback port.</summary>
    public static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A loopback TCP port free right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
